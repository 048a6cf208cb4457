import { describe, expect, it } from "@effect/vitest"
import { isIdentifier } from "@polymath/dsl"
import type { NodeWrite, RelationshipWrite } from "@polymath/engine"
import {
  constraintName,
  databaseInfoStatement,
  findNodesStatement,
  labelForValue,
  missingEndpointReason,
  missingEndpointsStatement,
  Neo4jError,
  nodeCountStatement,
  nodeMergeStatement,
  nodeScanStatement,
  nodeUnscopeStatement,
  orphanDeleteStatement,
  prepareNodeBatch,
  prepareRelationshipBatch,
  quote,
  relationshipCountStatement,
  relationshipMergeStatement,
  relationshipScanStatement,
  relationshipsAtStatement,
  relationshipUnscopeStatement,
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

const mentions = {
  type: "MENTIONS",
  start: { label: "Passage", key: ["id"] },
  end: { label: "Concept", key: ["name", "type"] },
  key: ["extractor_version"]
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
      expect((e as Neo4jError).reason).toMatchObject({ _tag: "Syntax", detail: "InvalidIdentifier" })
    }
  })

  it("refuses to build any statement with an invalid label, type or property", () => {
    const node = { label: "Paper", key: ["doi"], properties: ["title"], extraLabel: null, scopeProperty: "versions" }
    expect(() => nodeMergeStatement({ ...node, label: "Paper`) DETACH DELETE n //" })).toThrow(/invalid label/)
    expect(() => nodeMergeStatement({ ...node, properties: ["ti tle"] })).toThrow(/invalid property/)
    expect(() => nodeMergeStatement({ ...node, extraLabel: "A b" })).toThrow(/invalid label/)
    expect(() => nodeMergeStatement({ ...node, scopeProperty: "a.b" })).toThrow(/invalid scope property/)
    const rel = { ...mentions, properties: ["score"], scopeProperty: "versions" }
    expect(() => relationshipMergeStatement({ ...rel, type: "MENTIONS]->() DELETE r //" })).toThrow(/invalid relationship type/)
    expect(() => relationshipMergeStatement({ ...rel, key: ["bad key"] })).toThrow(/invalid property/)
    expect(() => relationshipMergeStatement({ ...rel, end: { label: "Concept", key: [] } })).toThrow(/no key properties/)
    expect(() => nodeScanStatement({ label: "X y", key: ["id"] }, "versions")).toThrow(/invalid label/)
    expect(() => relationshipUnscopeStatement({ ...mentions, start: { label: "Passage", key: ["i d"] } }, "versions")).toThrow(/invalid key property/)
    expect(() => orphanDeleteStatement({ label: "Paper" }, "ver sions")).toThrow(/invalid scope property/)
  })

  it("refuses a mapping that would overwrite the scope set or the stamp", () => {
    const node = { label: "Paper", key: ["doi"], extraLabel: null, scopeProperty: "versions" }
    for (const reserved of ["versions", "run_id", "synced_at"]) {
      const e = thrown(() => nodeMergeStatement({ ...node, properties: [reserved] }))
      expect((e as Neo4jError).reason).toMatchObject({ _tag: "Syntax", detail: "InvalidWrite" })
    }
    expect(() => relationshipMergeStatement({ ...mentions, properties: [], key: ["versions"], scopeProperty: "versions" })).toThrow(/reserved/)
  })
})

describe("statements", () => {
  it("builds a node MERGE that writes only changed nodes, adding the scope under the node's lock", () => {
    const text = nodeMergeStatement({ label: "Paper", key: ["doi"], properties: ["doi", "title", "year"], extraLabel: "Method", scopeProperty: "versions" })
    expect(text).toBe([
      "UNWIND $rows AS row",
      "MERGE (n:`Paper` {`doi`: row.`k_doi`})",
      "WITH n, row, NOT ($scope IN coalesce(n.`versions`, [])) OR NOT n:`Method`" +
      " OR NOT coalesce(n.`title` = row.`p_title`, n.`title` IS NULL AND row.`p_title` IS NULL)" +
      " OR NOT coalesce(n.`year` = row.`p_year`, n.`year` IS NULL AND row.`p_year` IS NULL) AS changed",
      "FOREACH (_ IN CASE WHEN changed THEN [1] ELSE [] END | SET n.`title` = row.`p_title`, n.`year` = row.`p_year`," +
      " n.`versions` = CASE WHEN $scope IN coalesce(n.`versions`, []) THEN n.`versions` ELSE coalesce(n.`versions`, []) + $scope END," +
      " n.`run_id` = $runId, n.`synced_at` = datetime(), n:`Method`)",
      "RETURN count(CASE WHEN changed THEN 1 END) AS changed"
    ].join("\n"))
    const plain = nodeMergeStatement({ label: "Paper", key: ["doi"], properties: [], extraLabel: null, scopeProperty: "versions" })
    expect(plain).not.toContain("NOT n:")
    expect(plain).toContain("WITH n, row, NOT ($scope IN coalesce(n.`versions`, [])) AS changed")
  })

  it("builds a relationship MERGE between matched endpoints on the identity properties", () => {
    const text = relationshipMergeStatement({ ...mentions, properties: ["score"], scopeProperty: "versions" })
    expect(text).toBe([
      "UNWIND $rows AS row",
      "MATCH (a:`Passage` {`id`: row.`s_id`})",
      "MATCH (b:`Concept` {`name`: row.`e_name`, `type`: row.`e_type`})",
      "MERGE (a)-[r:`MENTIONS` {`extractor_version`: row.`k_extractor_version`}]->(b)",
      "WITH r, row, NOT ($scope IN coalesce(r.`versions`, [])) OR NOT coalesce(r.`score` = row.`p_score`, r.`score` IS NULL AND row.`p_score` IS NULL) AS changed",
      "FOREACH (_ IN CASE WHEN changed THEN [1] ELSE [] END | SET r.`score` = row.`p_score`," +
      " r.`versions` = CASE WHEN $scope IN coalesce(r.`versions`, []) THEN r.`versions` ELSE coalesce(r.`versions`, []) + $scope END," +
      " r.`run_id` = $runId, r.`synced_at` = datetime())",
      "RETURN count(DISTINCT row.i) AS matched, count(DISTINCT CASE WHEN changed THEN row.i END) AS changed"
    ].join("\n"))
    // Between endpoints whose keys are unique, a row matches at most one pair: plain counts.
    expect(relationshipMergeStatement({ ...mentions, properties: ["score"], scopeProperty: "versions" }, true).split("\n").at(-1))
      .toBe("RETURN count(*) AS matched, count(CASE WHEN changed THEN 1 END) AS changed")
    expect(relationshipMergeStatement({ ...mentions, key: [], properties: [], scopeProperty: "versions" })).toContain("MERGE (a)-[r:`MENTIONS`]->(b)")
    expect(missingEndpointsStatement(mentions)).toBe([
      "UNWIND range(0, size($rows) - 1) AS n",
      "WITH n, $rows[n] AS row",
      "WITH n, EXISTS { MATCH (a:`Passage` {`id`: row.`s_id`}) } AS hasStart, EXISTS { MATCH (b:`Concept` {`name`: row.`e_name`, `type`: row.`e_type`}) } AS hasEnd",
      "WHERE NOT (hasStart AND hasEnd)",
      "RETURN n, hasStart, hasEnd ORDER BY n"
    ].join("\n"))
  })

  it("builds scans and counts that return identities in key order", () => {
    expect(nodeScanStatement({ label: "Concept", key: ["name", "type"] }, "versions")).toBe(
      "MATCH (n:`Concept`) WHERE $scope IN n.`versions` RETURN [n.`name`, n.`type`] AS id"
    )
    expect(relationshipScanStatement(mentions, "versions")).toBe(
      "MATCH (a:`Passage`)-[r:`MENTIONS`]->(b:`Concept`) WHERE $scope IN r.`versions` RETURN [a.`id`, b.`name`, b.`type`, r.`extractor_version`] AS id"
    )
    expect(nodeCountStatement({ label: "Concept" }, "versions")).toBe("MATCH (n:`Concept`) WHERE $scope IN n.`versions` RETURN count(n) AS count")
    expect(relationshipCountStatement(mentions, "versions")).toBe(
      "MATCH (a:`Passage`)-[r:`MENTIONS`]->(b:`Concept`) WHERE $scope IN r.`versions` RETURN count(r) AS count"
    )
  })

  it("builds the trace reads: nodes by a key prefix, relationships at one end, each with whether it holds the scope", () => {
    expect(findNodesStatement({ label: "Concept", key: ["name", "type"] }, 1, "versions")).toBe(
      "UNWIND $match AS m\nMATCH (n:`Concept`)\nWHERE n.`name` IN m[0]\nRETURN DISTINCT [n.`name`, n.`type`] AS id, $scope IN coalesce(n.`versions`, []) AS inScope"
    )
    expect(relationshipsAtStatement(mentions, "end", "versions")).toBe(
      "UNWIND $ids AS id\nMATCH (a:`Passage`)-[r:`MENTIONS`]->(b:`Concept` {`name`: id[0], `type`: id[1]})\n" +
        "RETURN [a.`id`, b.`name`, b.`type`, r.`extractor_version`] AS id, $scope IN coalesce(r.`versions`, []) AS inScope"
    )
    expect(thrown(() => findNodesStatement({ label: "Bad Label", key: ["k"] }, 1, "versions"))).toBeInstanceOf(Neo4jError)
  })

  it("builds unscoping that removes the scope under the lock and deletes only what no scope holds", () => {
    expect(nodeUnscopeStatement({ label: "Concept", key: ["name", "type"] }, "versions")).toBe([
      "UNWIND $ids AS id",
      "MATCH (n:`Concept` {`name`: id[0], `type`: id[1]})",
      "WHERE $scope IN n.`versions`",
      "SET n.`versions` = [x IN n.`versions` WHERE x <> $scope]",
      "WITH n, size(n.`versions`) = 0 AND NOT EXISTS { (n)--() } AS gone",
      "FOREACH (_ IN CASE WHEN gone THEN [1] ELSE [] END | DELETE n)",
      "RETURN count(CASE WHEN gone THEN 1 END) AS deleted, count(CASE WHEN gone THEN null ELSE 1 END) AS unscoped"
    ].join("\n"))
    const rel = relationshipUnscopeStatement(mentions, "versions")
    expect(rel).toContain(
      "MATCH (a:`Passage` {`id`: id[0]})-[r:`MENTIONS` {`extractor_version`: id[3]}]->(b:`Concept` {`name`: id[1], `type`: id[2]})"
    )
    expect(rel).toContain("WITH r, size(r.`versions`) = 0 AS gone")
    expect(rel).toContain("DELETE r)")
    expect(relationshipUnscopeStatement({ ...mentions, key: [] }, "versions")).toContain("-[r:`MENTIONS`]->")
    expect(orphanDeleteStatement({ label: "Concept" }, "versions")).toBe([
      "MATCH (n:`Concept`)",
      "WHERE n.`versions` = [] AND NOT EXISTS { (n)--() }",
      "WITH n LIMIT $limit",
      "DELETE n",
      "RETURN count(*) AS deleted"
    ].join("\n"))
    expect(databaseInfoStatement).toContain("CALL db.info()")
  })

  it("keeps every value out of the statement text", () => {
    const texts = [
      nodeMergeStatement({ label: "Paper", key: ["doi"], properties: ["title"], extraLabel: "Method", scopeProperty: "versions" }),
      relationshipMergeStatement({ ...mentions, properties: ["score"], scopeProperty: "versions" }),
      nodeUnscopeStatement({ label: "Paper", key: ["doi"] }, "versions"),
      relationshipScanStatement(mentions, "versions")
    ]
    for (const text of texts) {
      // Only parameters, identifiers, keywords and the literals the statements need.
      expect(text).not.toMatch(/'|"/)
      expect(text.replace(/`[A-Za-z_][A-Za-z0-9_]*`/g, "")).not.toMatch(/\b(v1|batch|doi)\b/)
    }
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
    kind: "nodes",
    label: "Concept",
    key: [{ property: "id", column: "concept_id" }],
    properties: [{ property: "name", column: "name" }],
    labelFrom: { column: "type", map: { dataset: "DataSet" } }
  }

  it("maps columns to properties and groups rows by the label from a column, keeping row indices", () => {
    const batch = prepareNodeBatch(concepts, [
      { concept_id: 1n, name: "a", type: "method" },
      { concept_id: 2n, name: "b", type: "dataset" },
      { concept_id: 3n, name: "c", type: "method" },
      { concept_id: 4n, name: "d", type: null }
    ])
    expect(batch.groups.map((g) => [g.extraLabel, g.index])).toEqual([
      ["Method", [0, 2]],
      ["DataSet", [1]],
      [null, [3]]
    ])
    expect(batch.groups[0]?.rows[0]).toEqual({ k_id: 1n, p_name: "a" })
    // The row whose label column is NULL is in the group without an extra label.
    expect(batch.groups[2]?.rows[0]).toEqual({ k_id: 4n, p_name: "d" })
    expect(batch.valid).toBe(4)
    expect(batch.rejected).toEqual([])
    expect(labelForValue("task", { column: "type", map: null })).toBe("Task")
  })

  it("rejects rows with an invalid label or a null key, naming the value and column", () => {
    const batch = prepareNodeBatch(concepts, [
      { concept_id: 1n, type: "method" },
      { concept_id: 42n, type: "a b" },
      { concept_id: null, type: "method" }
    ])
    expect(batch.valid).toBe(1)
    expect(batch.rejected).toEqual([
      { index: 1, reason: "column type value \"a b\" gives label \"A b\", which is not a valid label" },
      { index: 2, reason: "column concept_id is null (key id of Concept)" }
    ])
  })

  it("maps relationship rows and rejects null endpoint keys and identity values", () => {
    const write: RelationshipWrite = {
      kind: "relationships",
      type: "ACTED_IN",
      start: { label: "Person", key: [{ property: "id", column: "pid" }] },
      end: { label: "Movie", key: [{ property: "title", column: "movie" }] },
      key: [{ property: "role", column: "role" }],
      properties: [{ property: "paid", column: "paid" }]
    }
    const batch = prepareRelationshipBatch(write, [
      { pid: 1n, movie: "M", role: "Neo", paid: 10n },
      { pid: 1n, movie: null, role: "Neo" },
      { pid: 1n, movie: "M", role: null },
      { movie: "M", role: "x" }
    ])
    expect(batch.rows).toEqual([{ s_id: 1n, e_title: "M", k_role: "Neo", p_paid: 10n }])
    expect(batch.index).toEqual([0])
    // With endpoints that are not unique, each row carries its index as an Integer (the statement counts distinct rows).
    expect(prepareRelationshipBatch(write, [{ pid: 2n, movie: null, role: "x" }, { pid: 1n, movie: "M", role: "Neo" }], true).rows)
      .toEqual([{ i: 1n, s_id: 1n, e_title: "M", k_role: "Neo", p_paid: null }])
    expect(batch.rejected).toEqual([
      { index: 1, reason: "column movie is null (end key title of ACTED_IN)" },
      { index: 2, reason: "column role is null (identity property role of ACTED_IN)" },
      { index: 3, reason: "column pid is null (start key id of ACTED_IN)" }
    ])
    expect(missingEndpointReason(write, { pid: 7n, movie: "X" }, true, false)).toBe("no Movie node with title=\"X\" (end of ACTED_IN)")
    expect(missingEndpointReason(write, { pid: 7n, movie: "X" }, false, false)).toBe(
      "no Person node with id=7 (start of ACTED_IN); no Movie node with title=\"X\" (end of ACTED_IN)"
    )
  })
})
