import { describe, expect, it } from "@effect/vitest"
import { cypherParams, parseEndpoint, toPositional } from "../src/index.ts"

describe("toPositional", () => {
  it("numbers each distinct :name once and leaves casts, strings and comments alone", () => {
    const r = toPositional("SELECT a::text, ':x', \"col:y\" -- :z\nFROM t WHERE v = :v AND w = :w OR v2 = :v /* :q */ AND $$ :d $$ = 'a'")
    expect(r.names).toEqual(["v", "w"])
    expect(r.text).toBe("SELECT a::text, ':x', \"col:y\" -- :z\nFROM t WHERE v = $1 AND w = $2 OR v2 = $1 /* :q */ AND $$ :d $$ = 'a'")
  })
  it("handles escaped quotes", () => {
    expect(toPositional("SELECT 'it''s :no' WHERE x = :yes").names).toEqual(["yes"])
  })
})

describe("cypherParams", () => {
  it("finds $names outside strings", () => {
    expect(cypherParams("MATCH (n {a: $a}) WHERE n.s = '$b' AND n.t = $c RETURN `$d`")).toEqual(["a", "c"])
  })
})

describe("parseEndpoint", () => {
  it("parses the short forms", () => {
    expect(parseEndpoint("Passage(passage_id)")).toEqual({ label: "Passage", key: [{ property: "passage_id", column: "passage_id" }] })
    expect(parseEndpoint("Concept(name: concept_name, type: concept_type)")).toEqual({
      label: "Concept",
      key: [{ property: "name", column: "concept_name" }, { property: "type", column: "concept_type" }]
    })
    expect(parseEndpoint("Bad Label(x)")).toMatch(/must look like/)
    expect(parseEndpoint("X()")).toMatch(/names no key/)
  })
})
