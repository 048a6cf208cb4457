import { describe, expect, it } from "@effect/vitest"
import { quoteIdent, quoteQualified } from "../src/Identifier.ts"
import { asSubquery } from "../src/Statement.ts"
import { vectorText } from "../src/VectorText.ts"

const sub = (text: string) => asSubquery({ text, params: [] })

describe("statement helpers", () => {
  it("wraps a statement as a subquery, dropping trailing terminators", () => {
    expect(sub("SELECT 1")).toBe("(\nSELECT 1\n) AS src")
    expect(sub("SELECT 1;\n  ")).toBe("(\nSELECT 1\n) AS src")
    expect(sub("SELECT 1; -- the ids ;\n")).toBe("(\nSELECT 1\n) AS src")
    expect(sub("SELECT 1 -- no terminator")).toBe("(\nSELECT 1 -- no terminator\n) AS src")
    expect(sub("SELECT 'a; -- b'")).toBe("(\nSELECT 'a; -- b'\n) AS src")
  })

  it("quotes identifiers", () => {
    expect(quoteIdent("passages")).toBe("\"passages\"")
    expect(quoteIdent("we\"ird")).toBe("\"we\"\"ird\"")
    expect(quoteQualified("public.Passages")).toBe("\"public\".\"Passages\"")
    expect(() => quoteIdent("")).toThrow()
  })

  it("prints float32 vectors compactly and exactly", () => {
    expect(vectorText(Float32Array.from([0.5, 0.1, -1, 1e-8, 3]))).toBe("[0.5,0.1,-1,1e-8,3]")
    const random = Float32Array.from({ length: 2000 }, () => (Math.random() - 0.5) * 10 ** Math.floor(Math.random() * 8 - 4))
    const back = Float32Array.from(vectorText(random).slice(1, -1).split(",").map(Number))
    expect(back).toEqual(random)
  })
})
