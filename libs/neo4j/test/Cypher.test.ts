import { describe, expect, it } from "@effect/vitest"
import type { NodeWrite, RelationshipWrite } from "@polymath/engine"
import {
  combineValues,
  constraintName,
  isIdentifier,
  labelForValue,
  missingEndpointsStatement,
  Neo4jError,
  nodeMergeStatement,
  prepareNodeBatch,
  prepareRelationshipBatch,
  quote,
  relationshipMergeStatement,
  uniqueConstraintStatement
} from "../src/index.ts"

const thrown = (f: () => unknown): unknown => {
  try {
    f()
  } catch (e) {
    return e
  }
  throw new Error("expected a throw")
}

describe("identifiers", () => {
  it("accepts plain identifiers and quotes them", () => {
    expect(isIdentifier("Paper")).toBe(true)
    expect(isIdentifier("_x9")).toBe(true)
    expect(quote("Paper")).toBe("`Paper`")
  })

  it("rejects spaces, leading digits and backticks with a non-retryable error", () => {
    for (const bad of ["Bad Label", "9lives", "", "a`b", "x` }) DETACH DELETE n //", "a-b", "é"]) {
      expect(isIdentifier(bad)).toBe(false)
      const e = thrown(() => quote(bad, "label"))
      expect(e).toBeInstanceOf(Neo4jError)
      expect((e as Neo4jError).isRetryable).toBe(false)
      expect((e as Neo4jError).reason).toBe("InvalidIdentifier")
    }
  })

  it("refuses to build a statement with an injected label", () => {
    expect(() =>
      nodeMergeStatement({ label: "Paper`) DETACH DELETE n //", key: ["doi"], properties: [], extraLabel: null, lineageExtra: [] })
    ).toThrow(/invalid label/)
    expect(() =>
      nodeMergeStatement({ label: "Paper", key: ["doi"], properties: ["ti tle"], extraLabel: null, lineageExtra: [] })
    ).toThrow(/invalid property/)
  })
})

describe("statements", () => {
  it("builds a node MERGE on the key with SETs and lineage", () => {
    const text = nodeMergeStatement({ label: "Paper", key: ["doi"], properties: ["doi", "title", "year"], extraLabel: "Method", lineageExtra: ["extractor_version"] })
    expect(text).toBe([
      "UNWIND $rows AS row",
      "MERGE (n:`Paper` {`doi`: row.`doi`})",
      "SET n.`title` = row.`title`, n.`year` = row.`year`, n.`synced_at` = datetime(), n.`run_id` = $lineage.runId, n.`pipeline` = $lineage.pipeline, n.`extractor_version` = $lineage.extra.`extractor_version`",
      "SET n:`Method`"
    ].join("\n"))
  })

  it("builds a relationship MERGE whose max/min keep the best value of the same run", () => {
    const text = relationshipMergeStatement({
      type: "CITES",
      start: { label: "Paper", key: ["doi"] },
      end: { label: "Paper", key: ["doi"] },
      properties: [{ property: "w", combine: "max" }, { property: "v", combine: "min" }, { property: "note", combine: "last" }],
      lineageExtra: []
    })
    expect(text).toContain("MATCH (a:`Paper` {`doi`: row.s.`doi`})")
    expect(text).toContain("MATCH (b:`Paper` {`doi`: row.e.`doi`})")
    expect(text).toContain("MERGE (a)-[r:`CITES`]->(b)")
    expect(text).toContain("r.`w` = CASE WHEN sameRun AND r.`w` IS NOT NULL AND (row.p.`w` IS NULL OR r.`w` >= row.p.`w`) THEN r.`w` ELSE row.p.`w` END")
    expect(text).toContain("r.`v` <= row.p.`v`")
    expect(text).toContain("r.`note` = row.p.`note`")
    expect(text).toContain("RETURN count(DISTINCT row.i) AS matched")
    expect(missingEndpointsStatement({ start: { label: "Paper", key: ["doi"] }, end: { label: "Author", key: ["orcid"] } })).toContain(
      "NOT EXISTS { MATCH (b:`Author` {`orcid`: row.e.`orcid`}) }"
    )
  })

  it("builds single and composite uniqueness constraints with deterministic names", () => {
    expect(constraintName("Paper", ["doi"])).toBe("polymath_Paper_doi_unique")
    expect(uniqueConstraintStatement("Paper", ["doi"])).toBe(
      "CREATE CONSTRAINT `polymath_Paper_doi_unique` IF NOT EXISTS FOR (n:`Paper`) REQUIRE n.`doi` IS UNIQUE"
    )
    expect(uniqueConstraintStatement("Author", ["orcid", "name"])).toBe(
      "CREATE CONSTRAINT `polymath_Author_orcid_name_unique` IF NOT EXISTS FOR (n:`Author`) REQUIRE (n.`orcid`, n.`name`) IS UNIQUE"
    )
    expect(() => uniqueConstraintStatement("Bad Label", ["doi"])).toThrow(/invalid label/)
  })
})

describe("batches", () => {
  const concepts: NodeWrite = {
    label: "Concept",
    key: [{ property: "id", column: "concept_id" }],
    properties: [{ property: "name", column: "name" }],
    labelFrom: { column: "type", map: { dataset: "DataSet" } }
  }

  it("maps columns to properties and groups rows by the label from a column", () => {
    const groups = prepareNodeBatch(concepts, [
      { concept_id: 1n, name: "a", type: "method" },
      { concept_id: 2n, name: "b", type: "dataset" },
      { concept_id: 3n, name: "c", type: "method" },
      { concept_id: 4n, name: "d", type: null }
    ])
    expect(groups.map((g) => [g.extraLabel, g.rows.map((r) => r.id)])).toEqual([
      ["Method", [1n, 3n]],
      ["DataSet", [2n]],
      [null, [4n]]
    ])
    expect(groups[0]?.rows[0]).toEqual({ id: 1n, name: "a" })
    expect(labelForValue("task", { column: "type", map: null })).toBe("Task")
  })

  it("rejects an invalid label value naming the row's key", () => {
    const e = thrown(() => prepareNodeBatch(concepts, [{ concept_id: 1n, type: "method" }, { concept_id: 42n, type: "bad value" }]))
    expect(e).toBeInstanceOf(Neo4jError)
    expect((e as Neo4jError).reason).toBe("InvalidLabel")
    expect((e as Neo4jError).isRetryable).toBe(false)
    expect((e as Neo4jError).message).toContain("id=42")
  })

  it("rejects a null node key", () => {
    const e = thrown(() => prepareNodeBatch(concepts, [{ concept_id: null, type: "method" }]))
    expect((e as Neo4jError).reason).toBe("NullKey")
  })

  it("deduplicates relationship rows per endpoints with each property's combine rule", () => {
    const write: RelationshipWrite = {
      type: "USES",
      start: { label: "Paper", key: [{ property: "doi", column: "doi" }] },
      end: { label: "Concept", key: [{ property: "id", column: "cid" }] },
      properties: [
        { property: "hi", column: "s", combine: "max" },
        { property: "lo", column: "s", combine: "min" },
        { property: "at", column: "s", combine: "last" }
      ]
    }
    const entries = prepareRelationshipBatch(write, [
      { doi: "x", cid: 1n, s: 0.5 },
      { doi: "x", cid: 2n, s: 0.1 },
      { doi: "x", cid: 1n, s: 0.9 },
      { doi: "x", cid: 1n, s: null },
      { doi: "x", cid: 1n, s: 0.2 }
    ])
    expect(entries).toHaveLength(2)
    expect(entries[0]?.p).toEqual({ hi: 0.9, lo: 0.2, at: 0.2 })
    expect(entries[0]?.count).toBe(4)
    expect(entries[1]?.p).toEqual({ hi: 0.1, lo: 0.1, at: 0.1 })
  })

  it("combines like the Cypher CASE", () => {
    expect(combineValues("max", 3n, 5n)).toBe(5n)
    expect(combineValues("max", 7n, 5)).toBe(7n)
    expect(combineValues("min", "b", "a")).toBe("a")
    expect(combineValues("max", null, 1)).toBe(1)
    expect(combineValues("max", 1, null)).toBe(1)
    expect(combineValues("last", 1, null)).toBe(null)
    expect(combineValues("max", "a", 1)).toBe(1)
  })
})
