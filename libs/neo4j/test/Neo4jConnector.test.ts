import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import type { GraphConnector, Lineage, NodeWrite, RelationshipWrite, Row } from "@polymath/engine"
import { constraintName, fromDriverError, makeNeo4jConnector, Neo4jError } from "../src/index.ts"
import neo4j from "neo4j-driver"

// Real Neo4j from the local stack (`eval "$(npm run -s stack -- env)"`); every label carries
// this run's suffix so that concurrent runs and other suites never see each other's data.
const uri = process.env["NEO4J_URI"]
const user = process.env["NEO4J_USER"] ?? "neo4j"
const password = process.env["NEO4J_PASSWORD"] ?? null
const suffix = `t${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`
const L = (base: string): string => `${base}_${suffix}`

const options = (overrides: Partial<Parameters<typeof makeNeo4jConnector>[0]> = {}): Parameters<typeof makeNeo4jConnector>[0] => ({
  name: "graph",
  uri: uri ?? "bolt://127.0.0.1:7687",
  user,
  password: password === null ? null : Redacted.make(password),
  database: null,
  ...overrides
})

const withGraph = <A, E>(f: (graph: GraphConnector) => Effect.Effect<A, E>) =>
  Effect.flatMap(makeNeo4jConnector(options()), f)

const lineage = (runId: string, extra: Lineage["extra"] = {}): Lineage => ({ runId, pipeline: `pipe_${suffix}`, extra })

const paperWrite: NodeWrite = {
  label: L("Paper"),
  key: [{ property: "doi", column: "doi" }],
  properties: [
    { property: "title", column: "title" },
    { property: "year", column: "year" },
    { property: "score", column: "score" }
  ],
  labelFrom: null
}

const papers: ReadonlyArray<Row> = [
  { doi: "10.1/a", title: "A", year: 2019n, score: 0.5 },
  { doi: "10.1/b", title: "B", year: 2020n, score: 1.0 },
  { doi: "10.1/c", title: "C", year: null, score: null }
]

describe.skipIf(uri === undefined)("Neo4jConnector (real Neo4j)", () => {
  afterAll(async () => {
    const driver = neo4j.driver(uri!, password === null ? undefined : neo4j.auth.basic(user, password))
    try {
      await driver.executeQuery(
        "MATCH (n) WHERE any(l IN labels(n) WHERE l ENDS WITH $suffix) DETACH DELETE n",
        { suffix: `_${suffix}` }
      )
      const { records } = await driver.executeQuery("SHOW CONSTRAINTS YIELD name WHERE name ENDS WITH $tail RETURN name", { tail: "_unique" })
      for (const r of records) {
        const name = String(r.get("name"))
        if (name.includes(suffix)) await driver.executeQuery(`DROP CONSTRAINT \`${name}\` IF EXISTS`)
      }
    } finally {
      await driver.close()
    }
  })

  it.live("creates single and composite uniqueness constraints idempotently", () =>
    withGraph((graph) =>
      Effect.gen(function*() {
        const specs = [{ label: L("Paper"), key: ["doi"] }, { label: L("Author"), key: ["orcid", "name"] }]
        yield* graph.ensureConstraints(specs)
        yield* graph.ensureConstraints(specs)
        const rows = yield* graph.query(
          "SHOW CONSTRAINTS YIELD name, type, labelsOrTypes, properties WHERE name IN $names RETURN name, type, labelsOrTypes, properties ORDER BY name",
          { names: specs.map((s) => constraintName(s.label, s.key)) }
        )
        expect(rows).toEqual([
          { name: `polymath_${L("Author")}_orcid_name_unique`, type: "UNIQUENESS", labelsOrTypes: [L("Author")], properties: ["orcid", "name"] },
          { name: `polymath_${L("Paper")}_doi_unique`, type: "UNIQUENESS", labelsOrTypes: [L("Paper")], properties: ["doi"] }
        ])
        // The composite constraint is enforced: a second node with the same (orcid, name) is refused.
        const driver = neo4j.driver(uri!, password === null ? undefined : neo4j.auth.basic(user, password))
        const violation = yield* Effect.tryPromise({
          try: () => driver.executeQuery(`CREATE (:${L("Author")} {orcid: 'o1', name: 'n'}), (:${L("Author")} {orcid: 'o1', name: 'n'})`),
          catch: (e) => fromDriverError(e, "test")
        }).pipe(Effect.flip, Effect.ensuring(Effect.promise(() => driver.close())))
        expect(violation.reason).toBe("ConstraintViolation")
        expect(violation.isRetryable).toBe(false)
      })
    ))

  it.live("MERGEs nodes idempotently, keeps integers integers and stamps lineage", () =>
    withGraph((graph) =>
      Effect.gen(function*() {
        const first = yield* graph.writeNodes(paperWrite, papers, lineage("run1", { extractor_version: "v3", batch_size: 500n }))
        expect(first).toEqual({ written: 3, skipped: 0, missing: 0, missingSample: [] })
        const second = yield* graph.writeNodes(paperWrite, papers, lineage("run2", { extractor_version: "v3", batch_size: 500n }))
        expect(second).toEqual({ written: 0, skipped: 3, missing: 0, missingSample: [] })

        const rows = yield* graph.query(
          `MATCH (n:${L("Paper")}) RETURN n.doi AS doi, n.year AS year, valueType(n.year) AS yearType, valueType(n.score) AS scoreType,
             toString(n.year) AS yearText, n.synced_at AS syncedAt, valueType(n.synced_at) AS syncedType, n.run_id AS runId,
             n.pipeline AS pipeline, n.extractor_version AS extractor, n.batch_size AS batchSize, n ORDER BY doi`,
          {}
        )
        expect(rows).toHaveLength(3)
        const a = rows[0]!
        expect(a["year"]).toBe(2019)
        expect(a["yearType"]).toMatch(/^INTEGER/)
        expect(a["yearText"]).toBe("2019")
        expect(a["scoreType"]).toMatch(/^FLOAT/)
        expect(a["syncedType"]).toMatch(/^ZONED DATETIME/)
        expect(typeof a["syncedAt"]).toBe("string")
        expect(Number.isNaN(Date.parse(String(a["syncedAt"]).replace(/\[.*\]$/, "")))).toBe(false)
        expect(a["runId"]).toBe("run2")
        expect(a["pipeline"]).toBe(`pipe_${suffix}`)
        expect(a["extractor"]).toBe("v3")
        expect(a["batchSize"]).toBe(500)
        expect(a["n"]).toMatchObject({ doi: "10.1/a", title: "A", year: 2019, score: 0.5 })
        // A null value leaves the property unset rather than storing a null.
        expect(rows[2]!["yearType"]).toBe("NULL")

        const big = yield* graph.query("RETURN $x AS x, 9007199254740993 AS y", { x: 5n })
        expect(big).toEqual([{ x: 5, y: 9007199254740993n }])
      })
    ))

  it.live("adds labels from a column, all groups in one transaction, and rejects an invalid label naming the row", () =>
    withGraph((graph) =>
      Effect.gen(function*() {
        const write: NodeWrite = {
          label: L("Concept"),
          key: [{ property: "id", column: "id" }],
          properties: [{ property: "name", column: "name" }],
          labelFrom: { column: "type", map: { method: L("Method") } }
        }
        const result = yield* graph.writeNodes(write, [
          { id: 1n, name: "BERT", type: "method" },
          { id: 2n, name: "SQuAD", type: `dataset_${suffix}` },
          { id: 3n, name: "GLUE", type: `dataset_${suffix}` },
          { id: 4n, name: "plain", type: null }
        ], lineage("run1"))
        expect(result.written).toBe(4)
        const rows = yield* graph.query(
          `MATCH (n:${L("Concept")}) RETURN n.id AS id, [l IN labels(n) WHERE l <> $base] AS extra ORDER BY id`,
          { base: L("Concept") }
        )
        expect(rows).toEqual([
          { id: 1, extra: [L("Method")] },
          { id: 2, extra: [`Dataset_${suffix}`] },
          { id: 3, extra: [`Dataset_${suffix}`] },
          { id: 4, extra: [] }
        ])

        const error = yield* Effect.flip(graph.writeNodes(write, [
          { id: 10n, name: "ok", type: "method" },
          { id: 11n, name: "bad", type: "not a label" }
        ], lineage("run1")))
        expect(error).toBeInstanceOf(Neo4jError)
        expect(error.isRetryable).toBe(false)
        expect(error.reason).toBe("InvalidLabel")
        expect(error.message).toContain("id=11")
        // Nothing of the rejected batch was written.
        const count = yield* graph.query(`MATCH (n:${L("Concept")}) WHERE n.id >= 10 RETURN count(n) AS c`, {})
        expect(count).toEqual([{ c: 0 }])
      })
    ))

  it.live("MERGEs relationships between matched endpoints and reports missing ones", () =>
    withGraph((graph) =>
      Effect.gen(function*() {
        yield* graph.writeNodes(paperWrite, papers, lineage("run1"))
        const cites: RelationshipWrite = {
          type: "CITES",
          start: { label: L("Paper"), key: [{ property: "doi", column: "citing" }] },
          end: { label: L("Paper"), key: [{ property: "doi", column: "cited" }] },
          properties: [{ property: "context", column: "context", combine: "last" }]
        }
        const rows: ReadonlyArray<Row> = [
          { citing: "10.1/a", cited: "10.1/b", context: "intro" },
          { citing: "10.1/a", cited: "10.1/c", context: "method" },
          { citing: "10.1/a", cited: "10.1/zzz", context: "lost" },
          { citing: "10.1/nope", cited: "10.1/b", context: "lost too" }
        ]
        const first = yield* graph.writeRelationships(cites, rows, lineage("run1", { extractor_version: "v3" }))
        expect(first.written).toBe(2)
        expect(first.skipped).toBe(0)
        expect(first.missing).toBe(2)
        expect(first.missingSample).toEqual([rows[2], rows[3]])

        const second = yield* graph.writeRelationships(cites, rows, lineage("run2", { extractor_version: "v3" }))
        expect(second).toMatchObject({ written: 0, skipped: 2, missing: 2 })

        const rels = yield* graph.query(
          `MATCH (a:${L("Paper")})-[r:CITES]->(b:${L("Paper")}) RETURN b.doi AS cited, r.context AS context, r.run_id AS runId,
             r.pipeline AS pipeline, r.extractor_version AS extractor, valueType(r.synced_at) AS syncedType ORDER BY cited`,
          {}
        )
        expect(rels).toEqual([
          { cited: "10.1/b", context: "intro", runId: "run2", pipeline: `pipe_${suffix}`, extractor: "v3", syncedType: "ZONED DATETIME NOT NULL" },
          { cited: "10.1/c", context: "method", runId: "run2", pipeline: `pipe_${suffix}`, extractor: "v3", syncedType: "ZONED DATETIME NOT NULL" }
        ])
      })
    ))

  it.live("combines duplicate relationship rows deterministically across batches in either order", () =>
    withGraph((graph) =>
      Effect.gen(function*() {
        const authorWrite: NodeWrite = { label: L("Person"), key: [{ property: "id", column: "id" }], properties: [], labelFrom: null }
        yield* graph.writeNodes(authorWrite, [{ id: 1n }, { id: 2n }], lineage("setup"))
        const knows: RelationshipWrite = {
          type: "KNOWS",
          start: { label: L("Person"), key: [{ property: "id", column: "a" }] },
          end: { label: L("Person"), key: [{ property: "id", column: "b" }] },
          properties: [
            { property: "hi", column: "w", combine: "max" },
            { property: "lo", column: "w", combine: "min" },
            { property: "n", column: "n", combine: "max" }
          ]
        }
        const batchA: ReadonlyArray<Row> = [{ a: 1n, b: 2n, w: 0.3, n: 3n }, { a: 1n, b: 2n, w: 0.9, n: 1n }]
        const batchB: ReadonlyArray<Row> = [{ a: 1n, b: 2n, w: 0.5, n: 7n }, { a: 1n, b: 2n, w: null, n: null }, { a: 1n, b: 2n, w: 0.1, n: 2n }]
        const read = graph.query(
          `MATCH (:${L("Person")} {id: 1})-[r:KNOWS]->(:${L("Person")} {id: 2}) RETURN r.hi AS hi, r.lo AS lo, r.n AS n, valueType(r.n) AS nType, count(*) AS rels`,
          {}
        )
        const expected = [{ hi: 0.9, lo: 0.1, n: 7, nType: "INTEGER NOT NULL", rels: 1 }]

        const ab1 = yield* graph.writeRelationships(knows, batchA, lineage("order-ab"))
        const ab2 = yield* graph.writeRelationships(knows, batchB, lineage("order-ab"))
        expect([ab1.written, ab1.skipped, ab2.written, ab2.skipped]).toEqual([1, 1, 0, 3])
        expect(yield* read).toEqual(expected)

        // A new run replaces the values of the earlier one, whatever they were.
        yield* graph.writeRelationships(knows, batchB, lineage("order-ba"))
        yield* graph.writeRelationships(knows, batchA, lineage("order-ba"))
        expect(yield* read).toEqual(expected)

        yield* graph.writeRelationships(knows, [{ a: 1n, b: 2n, w: 0.2, n: 1n }], lineage("smaller"))
        expect(yield* read).toEqual([{ hi: 0.2, lo: 0.2, n: 1, nType: "INTEGER NOT NULL", rels: 1 }])
      })
    ))

  it.live("fails non-retryably on a wrong password without revealing it", () =>
    Effect.gen(function*() {
      const secret = `wrong-${suffix}-Pa55`
      const error = yield* Effect.flip(makeNeo4jConnector(options({ password: Redacted.make(secret) })))
      expect(error.isRetryable).toBe(false)
      expect(error.reason).toBe("AuthenticationFailed")
      expect(error.message).not.toContain(secret)
      expect(String(error)).not.toContain(secret)
      expect(error.message).not.toMatch(/\n\s+at /)
    }))
})

describe("Neo4jConnector connection failures", () => {
  it.live("reports a closed port as a retryable ServiceUnavailable failure", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(makeNeo4jConnector(options({ uri: "bolt://127.0.0.1:1", password: Redacted.make("irrelevant-pw") })))
      expect(error.isRetryable).toBe(true)
      expect(error.reason).toBe("ServiceUnavailable")
      expect(error.message).toContain("bolt://127.0.0.1:1")
      expect(error.message).not.toContain("irrelevant-pw")
      expect(error.message).not.toMatch(/\n/)
    }))

  it.live("reports an unparseable URI as a non-retryable failure", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(makeNeo4jConnector(options({ uri: "nonsense://x" })))
      expect(error.isRetryable).toBe(false)
    }))
})
