import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Redacted, Schedule, Stream } from "effect"
import { identityHash } from "@polymath/engine"
import type { GraphConnector, GraphWriteResult, Identity, NodeWrite, RelationshipWrite, Row, Stamp, SyncScope, Value } from "@polymath/engine"
import { constraintName, fromDriverError, makeNeo4jConnector, scanChunkSize } from "../src/index.ts"
import neo4j from "neo4j-driver"

// Real Neo4j from the local stack; the vitest global setup always sets NEO4J_URI, so a
// missing one is a broken setup, not a reason to skip.
const uri = process.env["NEO4J_URI"]
if (uri === undefined || uri === "") throw new Error("NEO4J_URI is not set: run through vitest (its global setup starts the stack) or eval \"$(npm run -s stack -- env)\"")
const user = process.env["NEO4J_USER"] ?? "neo4j"
const password = process.env["NEO4J_PASSWORD"] ?? null

// Every label and relationship type carries this run's suffix, so that concurrent runs and
// other suites never see each other's data.
const suffix = `t${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`
const L = (base: string): string => `${base}_${suffix}`

const options = (overrides: Partial<Parameters<typeof makeNeo4jConnector>[0]> = {}): Parameters<typeof makeNeo4jConnector>[0] => ({
  name: "graph",
  uri,
  user,
  password: password === null ? null : Redacted.make(password),
  database: null,
  ...overrides
})

const withGraph = <A, E>(f: (graph: GraphConnector) => Effect.Effect<A, E>) =>
  Effect.scoped(Effect.flatMap(makeNeo4jConnector(options()), f))

const withTwoGraphs = <A, E>(f: (one: GraphConnector, two: GraphConnector) => Effect.Effect<A, E>) =>
  Effect.scoped(Effect.flatMap(Effect.all([makeNeo4jConnector(options({ name: "one" })), makeNeo4jConnector(options({ name: "two" }))]), ([one, two]) => f(one, two)))

const scopeProperty = "extractor_versions"
const scope = (value: string): SyncScope => ({ property: scopeProperty, value })
const stamp = (runId: string, value = "v1"): Stamp => ({ scope: scope(value), runId })
const lenient = { atomic: false } as const
const atomic = { atomic: true } as const

const counts = (r: GraphWriteResult) => ({ created: r.created, updated: r.updated, unchanged: r.unchanged, rejected: r.rejected.length, rolledBack: r.rolledBack })

// Concurrent writers may deadlock; the engine retries retryable failures, and so do these tests.
let retries = 0
const retrying = <A, E extends { readonly isRetryable: boolean }>(effect: Effect.Effect<A, E>): Effect.Effect<A, E> =>
  effect.pipe(
    Effect.tapError((e) => Effect.sync(() => {
      if (e.isRetryable) retries += 1
    })),
    Effect.retry({ while: (e) => e.isRetryable, schedule: Schedule.spaced("20 millis"), times: 10 })
  )

const nodesOf = (label: string, key: ReadonlyArray<string>, properties: ReadonlyArray<string> = [], labelFrom: NodeWrite["labelFrom"] = null): NodeWrite => ({
  kind: "nodes",
  label,
  key: key.map((k) => ({ property: k, column: k })),
  properties: properties.map((p) => ({ property: p, column: p })),
  labelFrom
})

/** A relationship mapping; endpoint keys map property -> column, identity and other properties are read from columns of their name. */
const relationshipsOf = (
  type: string,
  start: { readonly label: string; readonly key: Readonly<Record<string, string>> },
  end: { readonly label: string; readonly key: Readonly<Record<string, string>> },
  key: ReadonlyArray<string> = [],
  properties: ReadonlyArray<string> = []
): RelationshipWrite => {
  const endpoint = (e: typeof start) => ({ label: e.label, key: Object.entries(e.key).map(([property, column]) => ({ property, column })) })
  return {
    kind: "relationships",
    type,
    start: endpoint(start),
    end: endpoint(end),
    key: key.map((k) => ({ property: k, column: k })),
    properties: properties.map((p) => ({ property: p, column: p }))
  }
}

/**
 * Every node of the given labels and every relationship between them, with each property's
 * value and type, so that "untouched" can be checked exactly (synced_at to the nanosecond).
 */
const dump = (graph: GraphConnector, labels: ReadonlyArray<string>) =>
  Effect.map(Effect.all([
    graph.query(
      `MATCH (n) WHERE any(l IN labels(n) WHERE l IN $labels)
       RETURN labels(n) AS labels, properties(n) AS props, [k IN keys(n) | k + ':' + valueType(n[k])] AS types`,
      { labels }
    ),
    graph.query(
      `MATCH (a)-[r]->(b) WHERE any(l IN labels(a) WHERE l IN $labels)
       RETURN type(r) AS type, properties(a) AS a, properties(b) AS b, properties(r) AS props, [k IN keys(r) | k + ':' + valueType(r[k])] AS types`,
      { labels }
    )
  ]), ([nodes, relationships]) => [sortRows(nodes), sortRows(relationships)] as const)

const json = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? `${x.toString()}n` : x))
const sortRows = (rows: ReadonlyArray<Row>): ReadonlyArray<Row> => [...rows].sort((a, b) => (json(a) < json(b) ? -1 : json(a) > json(b) ? 1 : 0))

const admin = () => neo4j.driver(uri, password === null ? undefined : neo4j.auth.basic(user, password))

describe("Neo4jConnector (real Neo4j)", () => {
  afterAll(async () => {
    // Deadlocks between the concurrent writers depend on timing, so this is reported rather than asserted.
    console.info(`neo4j connector tests: ${retries} batch(es) retried after transient failures`)
    const driver = admin()
    try {
      await driver.executeQuery(
        "MATCH (n) WHERE any(l IN labels(n) WHERE l ENDS WITH $suffix) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 1000 ROWS",
        { suffix: `_${suffix}` }
      ).catch(async () => {
        await driver.executeQuery("MATCH (n) WHERE any(l IN labels(n) WHERE l ENDS WITH $suffix) DETACH DELETE n", { suffix: `_${suffix}` })
      })
      const { records } = await driver.executeQuery("SHOW CONSTRAINTS YIELD name RETURN name")
      for (const r of records) {
        const name = String(r.get("name"))
        if (name.includes(suffix)) await driver.executeQuery(`DROP CONSTRAINT \`${name}\` IF EXISTS`)
      }
      const left = await driver.executeQuery("MATCH (n) WHERE any(l IN labels(n) WHERE l ENDS WITH $suffix) RETURN count(n) AS c", { suffix: `_${suffix}` })
      expect(left.records[0]?.get("c").toNumber()).toBe(0)
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
        const driver = admin()
        const violation = yield* Effect.tryPromise({
          try: () => driver.executeQuery(`CREATE (:${L("Author")} {orcid: 'o1', name: 'n'}), (:${L("Author")} {orcid: 'o1', name: 'n'})`),
          catch: (e) => fromDriverError(e, "test")
        }).pipe(Effect.flip, Effect.ensuring(Effect.promise(() => driver.close())))
        expect(violation.reason).toMatchObject({ _tag: "Constraint", detail: "Neo.ClientError.Schema.ConstraintValidationFailed" })
        expect(violation.isRetryable).toBe(false)
      })
    ))

  it.live("counts created / updated / unchanged and leaves unchanged nodes byte-identical", () =>
    withGraph((graph) =>
      Effect.gen(function*() {
        const label = L("Doc")
        const write = nodesOf(label, ["doi"], ["title", "year", "score", "published", "tags"])
        yield* graph.ensureConstraints([{ label, key: ["doi"] }])
        const published = new Date("2021-03-04T05:06:07.089Z")
        const rows: ReadonlyArray<Row> = [
          { doi: "10.1/a", title: "A", year: 2019n, score: 0.5, published, tags: ["x", "y"] },
          { doi: "10.1/b", title: "B", year: 2020n, score: 1.0, published: null, tags: [] },
          { doi: "10.1/c", title: "C", year: null, score: null, published: null, tags: null }
        ]
        const first = yield* graph.writeNodes(write, rows, stamp("run1"), lenient)
        expect(first).toEqual({ created: 3, updated: 0, unchanged: 0, rejected: [], rolledBack: false })

        const typed = yield* graph.query(
          `MATCH (n:${label} {doi: '10.1/a'}) RETURN valueType(n.year) AS year, valueType(n.score) AS score, valueType(n.published) AS published,
             valueType(n.synced_at) AS syncedAt, n.run_id AS runId, n.${scopeProperty} AS scopes, n.published = datetime($at) AS sameInstant`,
          { at: published.toISOString() }
        )
        expect(typed).toEqual([{
          year: "INTEGER NOT NULL",
          score: "FLOAT NOT NULL",
          published: "ZONED DATETIME NOT NULL",
          syncedAt: "ZONED DATETIME NOT NULL",
          runId: "run1",
          scopes: ["v1"],
          sameInstant: true
        }])
        // A null value leaves the property unset rather than storing a null.
        expect(yield* graph.query(`MATCH (n:${label} {doi: '10.1/c'}) RETURN keys(n) AS keys`, {})).toEqual([
          { keys: expect.arrayContaining(["doi", "title", scopeProperty, "run_id", "synced_at"]) }
        ])
        expect((yield* graph.query(`MATCH (n:${label} {doi: '10.1/c'}) RETURN size(keys(n)) AS n`, {}))[0]).toEqual({ n: 5 })

        const before = yield* dump(graph, [label])
        const again = yield* graph.writeNodes(write, rows, stamp("run2"), lenient)
        expect(again).toEqual({ created: 0, updated: 0, unchanged: 3, rejected: [], rolledBack: false })
        expect(yield* dump(graph, [label])).toEqual(before)

        // One edited title and one score set to null: only those two nodes are written.
        const edited = [{ ...rows[0]!, score: null }, { ...rows[1]!, title: "B2" }, rows[2]!]
        const third = yield* graph.writeNodes(write, edited, stamp("run3"), lenient)
        expect(third).toEqual({ created: 0, updated: 2, unchanged: 1, rejected: [], rolledBack: false })
        const [nodesAfter] = yield* dump(graph, [label])
        const byDoi = (nodes: ReadonlyArray<Row>, doi: string) => nodes.find((n) => (n["props"] as Record<string, Value>)["doi"] === doi)!
        const [nodesBefore] = before
        expect(byDoi(nodesAfter, "10.1/c")).toEqual(byDoi(nodesBefore, "10.1/c"))
        const a = byDoi(nodesAfter, "10.1/a")["props"] as Record<string, Value>
        const b = byDoi(nodesAfter, "10.1/b")["props"] as Record<string, Value>
        expect(a["run_id"]).toBe("run3")
        expect("score" in a).toBe(false)
        expect(b).toMatchObject({ title: "B2", run_id: "run3", year: 2020, tags: [] })
        expect(b["synced_at"]).not.toEqual((byDoi(nodesBefore, "10.1/b")["props"] as Record<string, Value>)["synced_at"])
      })
    ))

  it.live("adds a second scope to the set and keeps the first; the same scope again changes nothing", () =>
    withGraph((graph) =>
      Effect.gen(function*() {
        const label = L("Scoped")
        const write = nodesOf(label, ["id"], ["name"])
        const rows = [{ id: 1n, name: "one" }, { id: 2n, name: "two" }]
        yield* graph.writeNodes(write, rows, stamp("run1", "v1"), lenient)
        const second = yield* graph.writeNodes(write, rows, stamp("run2", "v2"), lenient)
        expect(counts(second)).toEqual({ created: 0, updated: 2, unchanged: 0, rejected: 0, rolledBack: false })
        const again = yield* graph.writeNodes(write, rows, stamp("run3", "v1"), lenient)
        expect(counts(again)).toEqual({ created: 0, updated: 0, unchanged: 2, rejected: 0, rolledBack: false })
        expect(yield* graph.query(`MATCH (n:${label}) RETURN n.id AS id, n.${scopeProperty} AS scopes, n.run_id AS runId ORDER BY id`, {})).toEqual([
          { id: 1, scopes: ["v1", "v2"], runId: "run2" },
          { id: 2, scopes: ["v1", "v2"], runId: "run2" }
        ])
        expect(yield* graph.countInScope(write, scope("v1"))).toBe(2)
        expect(yield* graph.countInScope(write, scope("v3"))).toBe(0)
      })
    ))

  it.live("adds labels from a column and rejects invalid labels and null keys, or rolls the batch back when atomic", () =>
    withGraph((graph) =>
      Effect.gen(function*() {
        const label = L("Concept")
        const write = nodesOf(label, ["id"], ["name"], { column: "type", map: { method: L("Method") } })
        const result = yield* graph.writeNodes(write, [
          { id: 1n, name: "BERT", type: "method" },
          { id: 2n, name: "SQuAD", type: `dataset_${suffix}` },
          { id: 3n, name: "GLUE", type: `dataset_${suffix}` },
          { id: 4n, name: "plain", type: null },
          { id: 5n, name: "bad", type: "not a label" },
          { id: null, name: "no key", type: "method" }
        ], stamp("run1"), lenient)
        expect(result).toEqual({
          created: 4,
          updated: 0,
          unchanged: 0,
          rejected: [
            { index: 4, reason: "column type value \"not a label\" gives label \"Not a label\", which is not a valid label" },
            { index: 5, reason: `column id is null (key id of ${label})` }
          ],
          rolledBack: false
        })
        const extraLabels = graph.query(`MATCH (n:${label}) RETURN n.id AS id, [l IN labels(n) WHERE l <> $base] AS extra ORDER BY id`, { base: label })
        expect(yield* extraLabels).toEqual([
          { id: 1, extra: [L("Method")] },
          { id: 2, extra: [`Dataset_${suffix}`] },
          { id: 3, extra: [`Dataset_${suffix}`] },
          { id: 4, extra: [] }
        ])

        // A missing extra label alone makes a node changed.
        const relabel = yield* graph.writeNodes(write, [{ id: 4n, name: "plain", type: "method" }, { id: 1n, name: "BERT", type: "method" }], stamp("run2"), lenient)
        expect(counts(relabel)).toEqual({ created: 0, updated: 1, unchanged: 1, rejected: 0, rolledBack: false })

        const before = yield* dump(graph, [label])
        const rolled = yield* graph.writeNodes(write, [
          { id: 10n, name: "ok", type: "method" },
          { id: 1n, name: "renamed", type: "method" },
          { id: 11n, name: "bad", type: "a b" }
        ], stamp("run3"), atomic)
        expect(rolled).toEqual({
          created: 0,
          updated: 0,
          unchanged: 0,
          rejected: [{ index: 2, reason: "column type value \"a b\" gives label \"A b\", which is not a valid label" }],
          rolledBack: true
        })
        expect(yield* dump(graph, [label])).toEqual(before)
      })
    ))

  it.live("MERGEs relationships, rejects rows whose endpoints are missing naming label and key, and counts changes", () =>
    withGraph((graph) =>
      Effect.gen(function*() {
        const paper = L("Paper")
        const concept = L("Term")
        const mentions = L("MENTIONS")
        yield* graph.ensureConstraints([{ label: paper, key: ["doi"] }, { label: concept, key: ["name", "type"] }])
        yield* graph.writeNodes(nodesOf(paper, ["doi"]), [{ doi: "p1" }, { doi: "p2" }], stamp("setup"), lenient)
        yield* graph.writeNodes(nodesOf(concept, ["name", "type"]), [{ name: "bert", type: "method" }, { name: "squad", type: "dataset" }], stamp("setup"), lenient)
        const write: RelationshipWrite = {
          kind: "relationships",
          type: mentions,
          start: { label: paper, key: [{ property: "doi", column: "doi" }] },
          end: { label: concept, key: [{ property: "name", column: "concept" }, { property: "type", column: "concept_type" }] },
          key: [],
          properties: [{ property: "score", column: "score" }]
        }
        const rows: ReadonlyArray<Row> = [
          { doi: "p1", concept: "bert", concept_type: "method", score: 0.9 },
          { doi: "p1", concept: "squad", concept_type: "dataset", score: 0.4 },
          { doi: "p1", concept: "x", concept_type: "method", score: 0.1 },
          { doi: "nope", concept: "bert", concept_type: "method", score: 0.1 },
          { doi: "nope", concept: "y", concept_type: "task", score: 0.1 },
          { doi: "p2", concept: "bert", concept_type: null, score: 0.1 }
        ]
        const first = yield* graph.writeRelationships(write, rows, stamp("run1"), lenient)
        expect(first).toEqual({
          created: 2,
          updated: 0,
          unchanged: 0,
          rejected: [
            { index: 2, reason: `no ${concept} node with name="x", type="method" (end of ${mentions})` },
            { index: 3, reason: `no ${paper} node with doi="nope" (start of ${mentions})` },
            { index: 4, reason: `no ${paper} node with doi="nope" (start of ${mentions}); no ${concept} node with name="y", type="task" (end of ${mentions})` },
            { index: 5, reason: `column concept_type is null (end key type of ${mentions})` }
          ],
          rolledBack: false
        })

        const before = yield* dump(graph, [paper, concept])
        const second = yield* graph.writeRelationships(write, rows.slice(0, 2), stamp("run2"), lenient)
        expect(second).toEqual({ created: 0, updated: 0, unchanged: 2, rejected: [], rolledBack: false })
        expect(yield* dump(graph, [paper, concept])).toEqual(before)

        const edited = yield* graph.writeRelationships(write, [{ ...rows[0]!, score: 0.95 }, rows[1]!, { doi: "p2", concept: "bert", concept_type: "method", score: null }], stamp("run3"), lenient)
        expect(counts(edited)).toEqual({ created: 1, updated: 1, unchanged: 1, rejected: 0, rolledBack: false })
        expect(yield* graph.query(
          `MATCH (a:${paper})-[r:${mentions}]->(b:${concept}) RETURN a.doi AS doi, b.name AS name, r.score AS score, r.run_id AS runId,
             r.${scopeProperty} AS scopes, valueType(r.synced_at) AS syncedAt ORDER BY doi, name`,
          {}
        )).toEqual([
          { doi: "p1", name: "bert", score: 0.95, runId: "run3", scopes: ["v1"], syncedAt: "ZONED DATETIME NOT NULL" },
          { doi: "p1", name: "squad", score: 0.4, runId: "run1", scopes: ["v1"], syncedAt: "ZONED DATETIME NOT NULL" },
          { doi: "p2", name: "bert", score: null, runId: "run3", scopes: ["v1"], syncedAt: "ZONED DATETIME NOT NULL" }
        ])
        expect(yield* graph.countInScope(write, scope("v1"))).toBe(3)
      })
    ))

  it.live("initialLoad CREATEs what MERGE writes between unique endpoints (same counts, rejections and properties), MERGEs when the graph holds relationships of the type it was not told of; holdsRelationships", () =>
    withGraph((graph) =>
      Effect.gen(function*() {
        const paper = L("IlPaper")
        const concept = L("IlTerm")
        const merged = L("IL_MERGED")
        const created = L("IL_CREATED")
        yield* graph.ensureConstraints([{ label: paper, key: ["doi"] }, { label: concept, key: ["name"] }])
        yield* graph.writeNodes(nodesOf(paper, ["doi"]), [{ doi: "p1" }, { doi: "p2" }], stamp("setup"), lenient)
        yield* graph.writeNodes(nodesOf(concept, ["name"]), [{ name: "bert" }, { name: "squad" }], stamp("setup"), lenient)
        const write = (type: string) => relationshipsOf(type, { label: paper, key: { doi: "doi" } }, { label: concept, key: { name: "concept" } }, ["version"], ["score", "note"])
        const rows: ReadonlyArray<Row> = [
          { doi: "p1", concept: "bert", version: "v1", score: 0.9, note: "a" },
          { doi: "p1", concept: "bert", version: "v2", score: 0.8, note: null },
          { doi: "p2", concept: "squad", version: "v1", score: null, note: "c" },
          { doi: "p3", concept: "bert", version: "v1", score: 0.1, note: "missing start" }
        ]
        expect(yield* graph.holdsRelationships(created)).toBe(false)
        const viaMerge = yield* graph.writeRelationships(write(merged), rows, stamp("run1"), lenient)
        const viaCreate = yield* graph.writeRelationships(write(created), rows, stamp("run1"), { atomic: false, initialLoad: { held: 0 } })
        expect(viaCreate.initialLoad).toBe(true)
        expect(viaMerge.initialLoad).not.toBe(true)
        expect(counts(viaCreate)).toEqual({ created: 3, updated: 0, unchanged: 0, rejected: 1, rolledBack: false })
        expect(viaCreate.rejected).toEqual([{ index: 3, reason: `no ${paper} node with doi="p3" (start of ${created})` }])
        expect(counts(viaMerge)).toEqual(counts(viaCreate))
        expect(yield* graph.holdsRelationships(created)).toBe(true)
        const properties = (type: string) =>
          graph.query(`MATCH (a)-[r:${type}]->(b) RETURN a.doi AS doi, b.name AS name, r {.*, synced_at: valueType(r.synced_at)} AS r ORDER BY doi, name, r.version`, {})
        expect(yield* properties(created)).toEqual(yield* properties(merged))
        // What an initial load created, a later MERGE finds unchanged.
        const again = yield* graph.writeRelationships(write(created), rows.slice(0, 3), stamp("run2"), lenient)
        expect(counts(again)).toEqual({ created: 0, updated: 0, unchanged: 3, rejected: 0, rolledBack: false })
        // Told that the graph holds 2 relationships of the type, all the caller's, it finds 3: another
        // writer's. The CREATE is rolled back and the batch MERGEd: nothing twice.
        const notAlone = yield* graph.writeRelationships(write(created), rows.slice(0, 1), stamp("run3"), { atomic: false, initialLoad: { held: 2 } })
        expect(notAlone.initialLoad).not.toBe(true)
        expect(counts(notAlone)).toEqual({ created: 0, updated: 0, unchanged: 1, rejected: 0, rolledBack: false })
        expect(yield* graph.countInScope(write(created), scope("v1"))).toBe(3)
        // Told (wrongly) that all 3 are its own, it trusts the caller (the engine's InitialLoad.ts) and creates without looking.
        const blind = yield* graph.writeRelationships(write(created), rows.slice(0, 1), stamp("run3"), { atomic: false, initialLoad: { held: 3 } })
        expect(blind.initialLoad).toBe(true)
        expect(counts(blind)).toEqual({ created: 1, updated: 0, unchanged: 0, rejected: 0, rolledBack: false })
        expect(yield* graph.countInScope(write(created), scope("v1"))).toBe(4)
      })
    ))

  it.live("two initial loads of one type at once (two runs that each found the type empty): one CREATEs, the other MERGEs, nothing twice", () =>
    withTwoGraphs((one, two) =>
      Effect.gen(function*() {
        const item = L("IlItem")
        const tagLabel = L("IlTag")
        const tagged = L("IL_TAGGED")
        yield* one.ensureConstraints([{ label: item, key: ["id"] }, { label: tagLabel, key: ["tag"] }])
        yield* two.ensureConstraints([{ label: item, key: ["id"] }, { label: tagLabel, key: ["tag"] }])
        const ids = Array.from({ length: 300 }, (_, i) => BigInt(i))
        yield* one.writeNodes(nodesOf(item, ["id"]), ids.map((id) => ({ id })), stamp("setup"), lenient)
        yield* one.writeNodes(nodesOf(tagLabel, ["tag"]), [{ tag: "x" }, { tag: "y" }], stamp("setup"), lenient)
        const write = relationshipsOf(tagged, { label: item, key: { id: "id" } }, { label: tagLabel, key: { tag: "tag" } })
        const rows = ids.flatMap((id) => [{ id, tag: "x" }, { id, tag: "y" }])
        const options = { atomic: false, initialLoad: { held: 0 } }
        const [a, b] = yield* Effect.all([
          retrying(one.writeRelationships(write, rows, stamp("run-a", "va"), options)),
          retrying(two.writeRelationships(write, [...rows].reverse(), stamp("run-b", "vb"), options))
        ], { concurrency: 2 })
        expect([a.initialLoad === true, b.initialLoad === true].filter((x) => x)).toHaveLength(1)
        expect(a.created + b.created).toBe(rows.length)
        // One relationship per row, each holding both runs' scopes.
        expect(yield* one.query(`MATCH (:${item})-[r:${tagged}]->(:${tagLabel}) RETURN count(r) AS n, count(CASE WHEN 'va' IN r.${scopeProperty} AND 'vb' IN r.${scopeProperty} THEN 1 END) AS both`, {}))
          .toEqual([{ n: rows.length, both: rows.length }])
      })
    ))

  it.live("initialLoad without a uniqueness constraint on an endpoint MERGEs: nothing is created twice", () =>
    withGraph((graph) =>
      Effect.gen(function*() {
        const person = L("IlPerson")
        const city = L("IlCity")
        const livesIn = L("IL_LIVES_IN")
        yield* graph.writeNodes(nodesOf(person, ["pid"]), [{ pid: "a" }], stamp("setup"), lenient)
        yield* graph.writeNodes(nodesOf(city, ["name"]), [{ name: "Oslo" }], stamp("setup"), lenient)
        const write = relationshipsOf(livesIn, { label: person, key: { pid: "pid" } }, { label: city, key: { name: "city" } })
        const first = yield* graph.writeRelationships(write, [{ pid: "a", city: "Oslo" }], stamp("run1"), { atomic: false, initialLoad: { held: 0 } })
        expect(first.initialLoad).not.toBe(true)
        expect(counts(first)).toMatchObject({ created: 1 })
        const second = yield* graph.writeRelationships(write, [{ pid: "a", city: "Oslo" }], stamp("run1"), { atomic: false, initialLoad: { held: 1 } })
        expect(counts(second)).toMatchObject({ created: 0, unchanged: 1 })
        expect(yield* graph.countInScope(write, scope("v1"))).toBe(1)
      })
    ))

  it.live("without a uniqueness constraint on an endpoint, a row matching two nodes counts once and a missing endpoint beside it is still reported", () =>
    withGraph((graph) =>
      Effect.gen(function*() {
        // No ensureConstraints: two Person nodes share the key, as a graph written by other tools may hold.
        const person = L("Person")
        const city = L("City")
        const livesIn = L("LIVES_IN")
        yield* Effect.promise(async () => {
          const driver = admin()
          try {
            await driver.executeQuery(`CREATE (:${person} {pid: 'dup'}), (:${person} {pid: 'dup'}), (:${city} {name: 'Oslo'})`)
          } finally {
            await driver.close()
          }
        })
        const write: RelationshipWrite = {
          kind: "relationships",
          type: livesIn,
          start: { label: person, key: [{ property: "pid", column: "pid" }] },
          end: { label: city, key: [{ property: "name", column: "city" }] },
          key: [],
          properties: []
        }
        // Row 0 matches two start nodes and row 1 none: counted per pair, the two would cancel out
        // and row 1 would be lost without a word.
        const result = yield* graph.writeRelationships(write, [{ pid: "dup", city: "Oslo" }, { pid: "gone", city: "Oslo" }], stamp("run1"), lenient)
        // Two relationships for one row: created counts relationships, updated and unchanged count rows (never below 0).
        expect(result).toEqual({
          created: 2,
          updated: 0,
          unchanged: 0,
          rejected: [{ index: 1, reason: `no ${person} node with pid="gone" (start of ${livesIn})` }],
          rolledBack: false
        })
      })
    ))

  it.live("rolls a whole relationship batch back when atomic and one row is rejected", () =>
    withGraph((graph) =>
      Effect.gen(function*() {
        const person = L("Person")
        const knows = L("KNOWS")
        yield* graph.writeNodes(nodesOf(person, ["id"]), [{ id: 1n }, { id: 2n }, { id: 3n }], stamp("setup"), lenient)
        const write: RelationshipWrite = {
          kind: "relationships",
          type: knows,
          start: { label: person, key: [{ property: "id", column: "a" }] },
          end: { label: person, key: [{ property: "id", column: "b" }] },
          key: [{ property: "since", column: "since" }],
          properties: []
        }
        const existing = yield* graph.writeRelationships(write, [{ a: 1n, b: 2n, since: 2001n }], stamp("run1"), atomic)
        expect(counts(existing)).toEqual({ created: 1, updated: 0, unchanged: 0, rejected: 0, rolledBack: false })
        const before = yield* dump(graph, [person])

        // A missing endpoint is found only by the statement: the transaction is rolled back.
        const missing = yield* graph.writeRelationships(write, [
          { a: 1n, b: 2n, since: 2001n },
          { a: 1n, b: 3n, since: 2002n },
          { a: 2n, b: 9n, since: 2003n }
        ], stamp("run2", "v2"), atomic)
        expect(missing).toEqual({
          created: 0,
          updated: 0,
          unchanged: 0,
          rejected: [{ index: 2, reason: `no ${person} node with id=9 (end of ${knows})` }],
          rolledBack: true
        })
        expect(yield* dump(graph, [person])).toEqual(before)

        // A null identity value is found before sending; the report still names the missing endpoint too.
        const nullIdentity = yield* graph.writeRelationships(write, [
          { a: 1n, b: 3n, since: 2002n },
          { a: 8n, b: 3n, since: 2002n },
          { a: 2n, b: 3n, since: null }
        ], stamp("run3"), atomic)
        expect(nullIdentity).toEqual({
          created: 0,
          updated: 0,
          unchanged: 0,
          rejected: [
            { index: 1, reason: `no ${person} node with id=8 (start of ${knows})` },
            { index: 2, reason: `column since is null (identity property since of ${knows})` }
          ],
          rolledBack: true
        })
        expect(yield* dump(graph, [person])).toEqual(before)

        const lenientNull = yield* graph.writeRelationships(write, [{ a: 1n, b: 3n, since: 2002n }, { a: 2n, b: 3n, since: null }], stamp("run4"), lenient)
        expect(lenientNull.created).toBe(1)
        expect(lenientNull.rejected.map((r) => r.index)).toEqual([1])
      })
    ))

  it.live("keeps one relationship per distinct identity property value", () =>
    withGraph((graph) =>
      Effect.gen(function*() {
        const actor = L("Actor")
        const movie = L("Movie")
        const actedIn = L("ACTED_IN")
        yield* graph.writeNodes(nodesOf(actor, ["name"]), [{ name: "Keanu" }], stamp("setup"), lenient)
        yield* graph.writeNodes(nodesOf(movie, ["title"]), [{ title: "The Matrix" }], stamp("setup"), lenient)
        const write: RelationshipWrite = {
          kind: "relationships",
          type: actedIn,
          start: { label: actor, key: [{ property: "name", column: "actor" }] },
          end: { label: movie, key: [{ property: "title", column: "movie" }] },
          key: [{ property: "role", column: "role" }],
          properties: [{ property: "billing", column: "billing" }]
        }
        const two = yield* graph.writeRelationships(write, [
          { actor: "Keanu", movie: "The Matrix", role: "Neo", billing: 1n },
          { actor: "Keanu", movie: "The Matrix", role: "Thomas Anderson", billing: 1n }
        ], stamp("run1"), lenient)
        expect(counts(two)).toEqual({ created: 2, updated: 0, unchanged: 0, rejected: 0, rolledBack: false })
        const same = yield* graph.writeRelationships(write, [{ actor: "Keanu", movie: "The Matrix", role: "Neo", billing: 2n }], stamp("run2"), lenient)
        expect(counts(same)).toEqual({ created: 0, updated: 1, unchanged: 0, rejected: 0, rolledBack: false })
        expect(yield* graph.query(`MATCH (:${actor})-[r:${actedIn}]->(:${movie}) RETURN r.role AS role, r.billing AS billing ORDER BY role`, {})).toEqual([
          { role: "Neo", billing: 2 },
          { role: "Thomas Anderson", billing: 1 }
        ])
      })
    ))

  it.live("two connectors adding different scopes to the same 200 nodes concurrently lose neither", () =>
    withTwoGraphs((one, two) =>
      Effect.gen(function*() {
        const label = L("Shared")
        const write = nodesOf(label, ["id"], ["name"])
        yield* one.ensureConstraints([{ label, key: ["id"] }])
        const rows = Array.from({ length: 200 }, (_, i) => ({ id: BigInt(i), name: `n${i}` }))
        const batches = (all: ReadonlyArray<Row>) => Array.from({ length: 8 }, (_, b) => all.slice(b * 25, b * 25 + 25))
        const rounds = 6
        const expected: Array<string> = []
        for (let round = 0; round < rounds; round++) {
          const [a, b] = [`a${round}`, `b${round}`]
          // Both writers walk the same batches at the same time, so they meet on the same nodes.
          const writer = (graph: GraphConnector, value: string) =>
            Effect.forEach(batches(rows), (batch) => retrying(graph.writeNodes(write, batch, stamp(`${graph.name}-${round}`, value), lenient)))
          const [resultsA, resultsB] = yield* Effect.all([writer(one, a), writer(two, b)], { concurrency: 2 })
          const written = [...resultsA, ...resultsB].reduce((n, r) => n + r.created + r.updated, 0)
          expect(written).toBe(400)
          expected.push(a, b)
        }
        const nodes = yield* one.query(`MATCH (n:${label}) RETURN n.id AS id, n.${scopeProperty} AS scopes ORDER BY id`, {})
        expect(nodes).toHaveLength(200)
        const sorted = [...expected].sort()
        for (const node of nodes) expect([...(node["scopes"] as ReadonlyArray<string>)].sort()).toEqual(sorted)
      })
    ))

  it.live("two connectors MERGEing the same relationships concurrently create each once", () =>
    withTwoGraphs((one, two) =>
      Effect.gen(function*() {
        const from = L("From")
        const to = L("To")
        const links = L("LINKS")
        yield* one.ensureConstraints([{ label: from, key: ["id"] }, { label: to, key: ["id"] }])
        yield* one.writeNodes(nodesOf(from, ["id"]), Array.from({ length: 50 }, (_, i) => ({ id: BigInt(i) })), stamp("setup"), lenient)
        yield* one.writeNodes(nodesOf(to, ["id"]), Array.from({ length: 4 }, (_, i) => ({ id: BigInt(i) })), stamp("setup"), lenient)
        const write: RelationshipWrite = {
          kind: "relationships",
          type: links,
          start: { label: from, key: [{ property: "id", column: "from" }] },
          end: { label: to, key: [{ property: "id", column: "to" }] },
          key: [],
          properties: []
        }
        const rows = Array.from({ length: 200 }, (_, i) => ({ from: BigInt(i % 50), to: BigInt(Math.floor(i / 50)) }))
        const batches = Array.from({ length: 8 }, (_, b) => rows.slice(b * 25, b * 25 + 25))
        const writer = (graph: GraphConnector, value: string) =>
          Effect.forEach(batches, (batch) => retrying(graph.writeRelationships(write, batch, stamp(graph.name, value), lenient)))
        const [resultsA, resultsB] = yield* Effect.all([writer(one, "a"), writer(two, "b")], { concurrency: 2 })
        const created = [...resultsA, ...resultsB].reduce((n, r) => n + r.created, 0)
        expect(created).toBe(200)
        const pairs = yield* one.query(
          `MATCH (a:${from})-[r:${links}]->(b:${to}) WITH a, b, count(r) AS n, collect(r.${scopeProperty}) AS scopes RETURN n, scopes`,
          {}
        )
        expect(pairs).toHaveLength(200)
        for (const pair of pairs) {
          expect(pair["n"]).toBe(1)
          expect([...((pair["scopes"] as ReadonlyArray<ReadonlyArray<string>>)[0] ?? [])].sort()).toEqual(["a", "b"])
        }
      })
    ))

  it.live("scans a scope's identities as the source rows carry them, in chunks", () =>
    withGraph((graph) =>
      Effect.gen(function*() {
        const label = L("Typed")
        const write = nodesOf(label, ["n", "f", "s", "d"])
        yield* graph.ensureConstraints([{ label, key: ["n", "f", "s", "d"] }])
        const inScope: ReadonlyArray<Row> = [
          { n: 1n, f: 0.5, s: "a", d: new Date("2024-01-02T03:04:05.678Z") },
          { n: 2n ** 60n, f: 2.0, s: "é ü", d: new Date("1999-12-31T23:59:59.999Z") },
          { n: -7n, f: -1e-9, s: "", d: new Date(0) }
        ]
        const other: ReadonlyArray<Row> = [{ n: 3n, f: 0.25, s: "other", d: new Date("2020-01-01T00:00:00Z") }]
        yield* graph.writeNodes(write, inScope, stamp("run1", "v1"), lenient)
        yield* graph.writeNodes(write, other, stamp("run1", "v2"), lenient)
        const keyOf = (row: Row): Identity => [row["n"]!, row["f"]!, row["s"]!, row["d"]!]
        const hex = (ids: ReadonlyArray<Identity>) => ids.map((id) => Buffer.from(identityHash(id)).toString("hex")).sort()

        const scanned = (yield* Stream.runCollect(graph.scanScope(write, scope("v1")))).flat()
        expect(hex(scanned)).toEqual(hex(inScope.map(keyOf)))
        const big = scanned.find((id) => typeof id[0] === "bigint")
        expect(big?.[0]).toBe(2n ** 60n)
        expect(scanned.every((id) => id[3] instanceof Date)).toBe(true)

        // Relationship identities: start key, end key, identity properties.
        const rel = L("REL")
        const relWrite: RelationshipWrite = {
          kind: "relationships",
          type: rel,
          start: { label, key: write.key },
          end: { label, key: [{ property: "n", column: "n2" }, { property: "f", column: "f2" }, { property: "s", column: "s2" }, { property: "d", column: "d2" }] },
          key: [{ property: "at", column: "at" }],
          properties: []
        }
        const relRows: ReadonlyArray<Row> = [{ ...inScope[0]!, n2: 2n ** 60n, f2: 2.0, s2: "é ü", d2: inScope[1]!["d"]!, at: new Date("2025-05-05T05:05:05.005Z") }]
        yield* graph.writeRelationships(relWrite, relRows, stamp("run1", "v1"), lenient)
        const relScanned = (yield* Stream.runCollect(graph.scanScope(relWrite, scope("v1")))).flat()
        expect(hex(relScanned)).toEqual(hex(relRows.map((r) => ["n", "f", "s", "d", "n2", "f2", "s2", "d2", "at"].map((c) => r[c]!))))

        // More identities than one chunk holds come in several chunks.
        const many = L("Many")
        const manyWrite = nodesOf(many, ["id"])
        const total = scanChunkSize * 2 + 17
        yield* graph.ensureConstraints([{ label: many, key: ["id"] }])
        yield* graph.writeNodes(manyWrite, Array.from({ length: total }, (_, i) => ({ id: BigInt(i) })), stamp("run1"), lenient)
        const chunks = yield* Stream.runCollect(graph.scanScope(manyWrite, scope("v1")))
        expect(chunks.map((c) => c.length)).toEqual([scanChunkSize, scanChunkSize, 17])
        expect(new Set(chunks.flat().map((id) => id[0])).size).toBe(total)
        expect(yield* graph.countInScope(manyWrite, scope("v1"))).toBe(total)
        expect(yield* Stream.runCollect(graph.scanScope(manyWrite, scope("none")))).toEqual([])
      })
    ))

  it.live("unscopes: removes only the scope, deletes what no scope holds, keeps connected nodes; deletes orphans", () =>
    withGraph((graph) =>
      Effect.gen(function*() {
        const node = L("Node")
        const edge = L("EDGE")
        const write = nodesOf(node, ["id"])
        yield* graph.ensureConstraints([{ label: node, key: ["id"] }])
        // 1: v1 only; 2: v1 and v2; 3: v1 only, connected to 4 by a v1+v2 edge; 4: v2 only; 5: v1 only, connected to 6 by a v1 edge.
        yield* graph.writeNodes(write, [{ id: 1n }, { id: 2n }, { id: 3n }, { id: 5n }, { id: 6n }], stamp("run1", "v1"), lenient)
        yield* graph.writeNodes(write, [{ id: 2n }, { id: 4n }, { id: 6n }], stamp("run1", "v2"), lenient)
        const edges: RelationshipWrite = {
          kind: "relationships",
          type: edge,
          start: { label: node, key: [{ property: "id", column: "a" }] },
          end: { label: node, key: [{ property: "id", column: "b" }] },
          key: [],
          properties: []
        }
        yield* graph.writeRelationships(edges, [{ a: 3n, b: 4n }, { a: 5n, b: 6n }], stamp("run1", "v1"), lenient)
        yield* graph.writeRelationships(edges, [{ a: 3n, b: 4n }], stamp("run1", "v2"), lenient)
        expect(yield* graph.countInScope(edges, scope("v1"))).toBe(2)
        expect(yield* graph.countInScope(edges, scope("v2"))).toBe(1)

        // Identities as scanScope returns them (integers as numbers), plus ones that hold nothing here.
        const relIds = (yield* Stream.runCollect(graph.scanScope(edges, scope("v1")))).flat()
        expect(yield* graph.unscope(edges, scope("v1"), [...relIds, [1, 2], [77, 78]])).toEqual({ deleted: 1, unscoped: 1 })
        expect(yield* graph.unscope(edges, scope("v1"), relIds)).toEqual({ deleted: 0, unscoped: 0 })

        const nodeIds = (yield* Stream.runCollect(graph.scanScope(write, scope("v1")))).flat()
        expect(nodeIds.map((id) => id[0]).sort()).toEqual([1, 2, 3, 5, 6])
        // 1 and 5 go (5 lost its only edge above); 2 and 6 keep v2; 3 keeps its edge with an empty set; 4 never held v1.
        expect(yield* graph.unscope(write, scope("v1"), [...nodeIds, [4], [99]])).toEqual({ deleted: 2, unscoped: 3 })
        const state = () => graph.query(`MATCH (n:${node}) RETURN n.id AS id, n.${scopeProperty} AS scopes, COUNT { (n)--() } AS degree ORDER BY id`, {})
        expect(yield* state()).toEqual([
          { id: 2, scopes: ["v2"], degree: 0 },
          { id: 3, scopes: [], degree: 1 },
          { id: 4, scopes: ["v2"], degree: 1 },
          { id: 6, scopes: ["v2"], degree: 0 }
        ])
        expect(yield* graph.countInScope(write, scope("v1"))).toBe(0)

        // An orphan is a node with an empty set and no relationships: 3 is one once its edge is gone.
        expect(yield* graph.deleteOrphans(write, scope("v1"))).toBe(0)
        const edgeIds = (yield* Stream.runCollect(graph.scanScope(edges, scope("v2")))).flat()
        expect(yield* graph.unscope(edges, scope("v2"), edgeIds)).toEqual({ deleted: 1, unscoped: 0 })
        expect(yield* graph.deleteOrphans(write, scope("v2"))).toBe(1)
        expect((yield* state()).map((r) => r["id"])).toEqual([2, 4, 6])
      })
    ))

  it.live("has a stable fingerprint and returns big integers as bigint", () =>
    withGraph((graph) =>
      Effect.gen(function*() {
        const first = yield* graph.fingerprint
        expect(first).toMatch(/^neo4j:[^:]+:[^:]+:.+$/)
        expect(yield* graph.fingerprint).toBe(first)
        expect(yield* graph.query("RETURN $x AS x, 9007199254740993 AS y", { x: 5n })).toEqual([{ x: 5, y: 9007199254740993n }])
      })
    ))

  it.live("fails non-retryably on a wrong password without revealing it", () =>
    Effect.gen(function*() {
      const secret = `wrong-${suffix}-Pa55`
      const error = yield* Effect.flip(Effect.scoped(makeNeo4jConnector(options({ password: Redacted.make(secret) }))))
      expect(error.isRetryable).toBe(false)
      expect(error.reason).toMatchObject({ _tag: "Auth", detail: "Neo.ClientError.Security.Unauthorized" })
      expect(error.message).toContain("AuthenticationFailed")
      expect(error.message).not.toContain(secret)
      expect(String(error)).not.toContain(secret)
      expect(error.message).not.toMatch(/\n\s+at /)
    }))

})

describe("Neo4jConnector connection failures", () => {
  it.live("reports a closed port as a retryable ServiceUnavailable failure", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.scoped(makeNeo4jConnector(options({ uri: "bolt://127.0.0.1:1", password: Redacted.make("irrelevant-pw") }))))
      expect(error.isRetryable).toBe(true)
      expect(error.reason).toMatchObject({ _tag: "ConnectionLost", detail: "ServiceUnavailable" })
      expect(error.message).toContain("ServiceUnavailable")
      expect(error.message).toContain("bolt://127.0.0.1:1")
      expect(error.message).not.toContain("irrelevant-pw")
      expect(error.message).not.toMatch(/\n/)
    }))

  it.live("reports an unparseable URI as a non-retryable failure", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.scoped(makeNeo4jConnector(options({ uri: "nonsense://x" }))))
      expect(error.isRetryable).toBe(false)
    }))
})
