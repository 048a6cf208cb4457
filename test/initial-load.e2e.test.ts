/**
 * The initial load (engine `run/InitialLoad.ts`): a relationship type the graph holds none of is
 * written with CREATE instead of MERGE. What must hold, on the real stack: a re-run finds every
 * relationship unchanged; a batch whose write committed but reported a failure is retried with
 * MERGE (the real connector, wrapped to fail after its write commits: not a mock); a first pass
 * that committed a batch and failed before its checkpoint resumes with MERGE; a type written by two
 * mappings, or already in the graph, is never created blind. Nothing is ever created twice.
 */
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { expect, layer } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { loadPipeline } from "@polymath/dsl"
import { compile, execute, Reason } from "@polymath/engine"
import type { FailureReason, GraphWriteOptions, Plan, RunReport } from "@polymath/engine"
import { layerConfig as embedders } from "@polymath/embeddings"
import { InjectedFault, realConnectorsLayer } from "./connectors.ts"
import { cypherScalar, cypherWrite, dsnFor, pgExec, pgRows, pgScalar, resetDatabase, resetGraph } from "./support.ts"

const db = "polymath_initial_load"
const item = "InitItem"
const tag = "InitTag"
const type = "INIT_TAGGED"
const items = 24
const tags = 5
const pageSize = 10

const dir = mkdtempSync(join(tmpdir(), "initial-load-"))
// Each item is tagged with 2 or 3 of the tags; `note` is NULL on some links (not stored).
const pipeline = (name: string, relationships: string): string => {
  const file = join(dir, `${name}.yaml`)
  writeFileSync(file, `pipeline: ${name}
connections:
  pg: { postgres: { dsn: "${dsnFor(db)}" } }
  graph:
    neo4j: { uri: "\${env.NEO4J_URI}", user: "\${env.NEO4J_USER:-neo4j}", password: "\${env.NEO4J_PASSWORD:-}" }
sources:
  items: { connection: pg, key: item_id, sql: "SELECT item_id, name FROM items" }
  tags: { connection: pg, key: tag, sql: "SELECT tag FROM tags" }
  links: { connection: pg, key: [item_id, tag], page_size: ${pageSize}, sql: "SELECT item_id, tag, note FROM links" }
  extra_links: { connection: pg, key: [item_id, tag], page_size: ${pageSize}, sql: "SELECT item_id, tag, note FROM links WHERE item_id % 2 = 0" }
steps:
  sync:
    retry: { attempts: 3, base_ms: 10, max_ms: 10 }
    graph:
      connection: graph
      nodes:
        - { label: ${item}, from: items, key: item_id, properties: [name] }
        - { label: ${tag}, from: tags, key: tag }
      relationships:
${relationships}
`)
  return file
}
const links = `        - { type: ${type}, from: links, start: "${item}(item_id)", end: "${tag}(tag)", properties: [note] }`
const single = pipeline("initial_single", links)
// Two mappings of the type: the even items' links come from both, so blind CREATEs would double them.
const double = pipeline("initial_double", `${links}\n        - { type: ${type}, from: extra_links, start: "${item}(item_id)", end: "${tag}(tag)", properties: [note] }`)

/**
 * What the wrapper does after the N-th writeRelationships call has committed: fail it, or let
 * another writer write (as a concurrent run of another version would).
 */
type Fault = { readonly call: number; readonly reason: FailureReason } | { readonly call: number; readonly then: () => Promise<void> }

/** The real connectors of the plan; writeRelationships passed through `fault`, its options recorded. */
const connectorsLayer = (plan: Plan, fault: Fault | null, seen: Array<GraphWriteOptions>) =>
  realConnectorsLayer(plan, ({ graph }) => {
    const real = graph.get("graph")!
    let calls = 0
    graph.set("graph", {
      ...real,
      writeRelationships: (write, rows, stamp, options) =>
        Effect.flatMap(real.writeRelationships(write, rows, stamp, options), (result) => {
          seen.push(result.initialLoad === true ? options : { atomic: options.atomic })
          calls++
          if (fault === null || calls !== fault.call) return Effect.succeed(result)
          if ("then" in fault) return Effect.as(Effect.promise(fault.then), result)
          return Effect.fail(new InjectedFault({ reason: fault.reason, message: `injected ${fault.reason._tag} after write ${calls} committed` }))
        })
    })
  })

const runWith = (file: string, fault: Fault | null = null, seen: Array<GraphWriteOptions> = []) =>
  Effect.gen(function*() {
    const loaded = yield* loadPipeline(file, { set: [], allowMissingEnv: false })
    const plan = compile(loaded, { force: false })
    return yield* execute(plan, { dryRun: false, resume: true }).pipe(Effect.provide(connectorsLayer(plan, fault, seen)))
  })

const reset = Effect.promise(async () => {
  await resetDatabase(db)
  await pgExec(`CREATE TABLE items (item_id int PRIMARY KEY, name text NOT NULL);
    CREATE TABLE tags (tag text PRIMARY KEY);
    CREATE TABLE links (item_id int, tag text, note text, PRIMARY KEY (item_id, tag));
    INSERT INTO items SELECT i, 'item ' || i FROM generate_series(1, ${items}) i;
    INSERT INTO tags SELECT 'tag ' || t FROM generate_series(1, ${tags}) t;
    INSERT INTO links SELECT i, 'tag ' || t, CASE WHEN (i + t) % 4 = 0 THEN NULL ELSE 'n' || i || '-' || t END
      FROM generate_series(1, ${items}) i, generate_series(1, ${tags}) t WHERE (i * t) % 3 <> 0 OR t = 1`, [], db)
  await resetGraph([item, tag])
})

const linkRows = Effect.promise(() => pgScalar("SELECT count(*) FROM links", [], db))
const relationships = Effect.promise(() => cypherScalar(`MATCH (:${item})-[r:${type}]->(:${tag}) RETURN count(r)`))
// Pairs holding more than one relationship of the type: what a blind CREATE on a retry would make.
const doubled = Effect.promise(() => cypherScalar(`MATCH (a:${item})-[r:${type}]->(b:${tag}) WITH a, b, count(r) AS n WHERE n > 1 RETURN count(*)`))
const relUnit = (report: RunReport) => report.units.find((u) => u.unit.includes(type))!
const initialNote = (report: RunReport) => report.notes.some((n) => n.includes("initial load"))
// Whether each recorded call was written as an initial load (the wrapper records the connector's answer).
const loads = (seen: ReadonlyArray<GraphWriteOptions>) => seen.map((o) => o.initialLoad !== undefined)

// The engine needs a model registry even for a graph-only pipeline; the retry backoff runs in real time.
layer(embedders, { excludeTestServices: true })("initial load of a relationship type the graph does not hold", (it) => {
  it.effect("a first sync creates every relationship and says so; a re-run finds them all unchanged", () =>
    Effect.gen(function*() {
      yield* reset
      const expected = yield* linkRows
      const seen: Array<GraphWriteOptions> = []
      const first = yield* runWith(single, null, seen)
      expect(initialNote(first)).toBe(true)
      expect(seen.length).toBe(Math.ceil(expected / pageSize))
      expect(loads(seen).every((l) => l)).toBe(true)
      expect(relUnit(first)).toMatchObject({ read: expected, created: expected, updated: 0, unchanged: 0, status: "done" })
      expect(yield* relationships).toBe(expected)
      // A NULL property is not stored, as a MERGE's SET would leave it absent.
      expect(yield* Effect.promise(() => cypherScalar(`MATCH ()-[r:${type}]->() WHERE r.note IS NULL RETURN count(r)`))).toBeGreaterThan(0)
      expect(yield* Effect.promise(() => cypherScalar(`MATCH ()-[r:${type}]->() WHERE r.run_id IS NULL OR r.synced_at IS NULL RETURN count(r)`))).toBe(0)

      const again: Array<GraphWriteOptions> = []
      const second = yield* runWith(single, null, again)
      expect(initialNote(second)).toBe(false)
      expect(loads(again).some((l) => l)).toBe(false)
      expect(relUnit(second)).toMatchObject({ read: expected, created: 0, updated: 0, unchanged: expected })
      expect(yield* relationships).toBe(expected)
    }), { timeout: 120_000 })

  it.effect("a batch whose write committed but failed is retried with MERGE: nothing twice", () =>
    Effect.gen(function*() {
      yield* reset
      const expected = yield* linkRows
      const seen: Array<GraphWriteOptions> = []
      const report = yield* runWith(single, { call: 2, reason: new Reason.ConnectionLost({ detail: "injected" }) }, seen)
      expect(yield* doubled).toBe(0)
      expect(yield* relationships).toBe(expected)
      // Call 2 committed, failed, and was retried (call 3) for the same page without the initial load,
      // and the initial load ended there.
      expect(loads(seen).slice(0, 3)).toEqual([true, true, false])
      expect(loads(seen).slice(2).some((l) => l)).toBe(false)
      expect(relUnit(report)).toMatchObject({ read: expected, retried: 1, status: "done" })
    }), { timeout: 120_000 })

  it.effect("another writer's relationship of the type ends the initial load: the batch that would repeat it is MERGEd", () =>
    Effect.gen(function*() {
      yield* reset
      const expected = yield* linkRows
      // After the first batch, another writer creates a relationship the second batch also yields.
      const [next] = yield* Effect.promise(() => pgRows(`SELECT item_id, tag FROM links ORDER BY item_id, tag OFFSET ${pageSize} LIMIT 1`, [], db))
      const other = () => cypherWrite(`MATCH (a:${item}), (b:${tag} {tag: $t}) WHERE a.item_id = $i CREATE (a)-[:${type} {by: 'another writer'}]->(b)`, { i: next!["item_id"], t: next!["tag"] })
      const seen: Array<GraphWriteOptions> = []
      const report = yield* runWith(single, { call: 1, then: other }, seen)
      expect(yield* doubled).toBe(0)
      expect(yield* relationships).toBe(expected)
      expect(loads(seen)[0]).toBe(true)
      expect(loads(seen).slice(1).some((l) => l)).toBe(false)
      // The other writer's relationship was found, not created again, and took this run's scope.
      expect(relUnit(report)).toMatchObject({ read: expected, created: expected - 1, updated: 1, status: "done" })
    }), { timeout: 120_000 })

  it.effect("a first pass that committed a batch and failed before its checkpoint resumes with MERGE: nothing twice", () =>
    Effect.gen(function*() {
      yield* reset
      const expected = yield* linkRows
      const failed = yield* runWith(single, { call: 1, reason: new Reason.Syntax({ detail: "injected" }) }).pipe(Effect.exit)
      expect(Exit.isFailure(failed)).toBe(true)
      expect(yield* relationships).toBe(pageSize)
      const seen: Array<GraphWriteOptions> = []
      const resumed = yield* runWith(single, null, seen)
      expect(resumed.resumed).toBe(true)
      expect(yield* doubled).toBe(0)
      expect(yield* relationships).toBe(expected)
      expect(initialNote(resumed)).toBe(false)
      expect(loads(seen).some((l) => l)).toBe(false)
    }), { timeout: 120_000 })

  it.effect("a type two mappings write is MERGEd: the links both yield are written once", () =>
    Effect.gen(function*() {
      yield* reset
      const expected = yield* linkRows
      const seen: Array<GraphWriteOptions> = []
      const report = yield* runWith(double, null, seen)
      expect(yield* doubled).toBe(0)
      expect(yield* relationships).toBe(expected)
      expect(initialNote(report)).toBe(false)
      expect(seen.length).toBeGreaterThan(0)
      expect(loads(seen).some((l) => l)).toBe(false)
    }), { timeout: 120_000 })
})
