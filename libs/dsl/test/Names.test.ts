import { describe, expect, it } from "@effect/vitest"
import { Schema } from "effect"
import { Identifier, Name, TableName } from "../src/index.ts"

describe("names", () => {
  it("identifiers, table names and names follow the one identifier rule", () => {
    const ok = (s: Schema.Top, v: string) => Schema.is(s as any)(v)
    expect(["a", "_a1", "Passage"].every((v) => ok(Identifier, v))).toBe(true)
    expect(["1a", "a-b", "a b", "", "a.b"].some((v) => ok(Identifier, v))).toBe(false)
    expect(["passages", "public.passages", "_s._t"].every((v) => ok(TableName, v))).toBe(true)
    expect(["1.t", "a.b.c", "s.", ".t", "a-b"].some((v) => ok(TableName, v))).toBe(false)
    expect(["batch-v1", "a--b", "x-", "pg", "_x-1"].every((v) => ok(Name, v))).toBe(true)
    expect(["-x", "1-x", "a b", "", "a.b"].some((v) => ok(Name, v))).toBe(false)
  })
})
