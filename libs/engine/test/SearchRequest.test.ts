import { describe, expect, it } from "vitest"
import { parseFilter, parseVia, SearchError } from "../src/index.ts"

describe("search request parsing", () => {
  it("reads --via as TYPE:Label with an optional property=value (the value may hold : and =)", () => {
    expect(parseVia("MENTIONS:Method")).toEqual({ type: "MENTIONS", label: "Method", property: null })
    expect(parseVia("MENTIONS:Concept:name=BERT")).toEqual({ type: "MENTIONS", label: "Concept", property: { name: "name", value: "BERT" } })
    expect(parseVia("CITES:Paper:doi=10.1/a:b=c")).toEqual({ type: "CITES", label: "Paper", property: { name: "doi", value: "10.1/a:b=c" } })
  })

  it("refuses a --via that is not TYPE:Label, naming the part that is wrong", () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["MENTIONS", "\"\" is not a label"],
      ["MEN TIONS:Method", "\"MEN TIONS\" is not a relationship type"],
      ["MENTIONS:Me`thod", "\"Me`thod\" is not a label"],
      ["MENTIONS:Concept:name", "\"name\" is not property=value"],
      ["MENTIONS:Concept:=x", "\"=x\" is not property=value"]
    ]
    for (const [text, why] of cases) {
      const r = parseVia(text)
      expect(r).toBeInstanceOf(SearchError)
      expect((r as SearchError).message).toContain(why)
      expect((r as SearchError).hint).toContain("TYPE:Label")
    }
  })

  it("reads --filter column=value for declared filter columns only", () => {
    expect(parseFilter("section=methods", ["section"])).toEqual({ column: "section", value: "methods" })
    expect(parseFilter("section=a=b", ["section"])).toEqual({ column: "section", value: "a=b" })
    expect(parseFilter("section=", ["section"])).toEqual({ column: "section", value: "" })
    const unknown = parseFilter("title=x", ["section", "doc_id"]) as SearchError
    expect(unknown.message).toBe("--filter: 'title' is not a filter of this search")
    expect(unknown.hint).toBe("filters: section, doc_id")
    expect((parseFilter("section", ["section"]) as SearchError).message).toContain("write column=value")
    expect((parseFilter("x=1", []) as SearchError).hint).toContain("declares no filters")
  })
})
