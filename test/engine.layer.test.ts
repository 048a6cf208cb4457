/**
 * The interpreter as a library, against the real stack: the engine's services are built
 * as layers from real Postgres and Neo4j connectors (through a fault-injecting wrapper
 * of the real source reader, not a mock), and the run is driven in-process so that
 * virtual time (TestClock) drives the retry backoff. Covers: a failure on page N and the
 * resumed run after it, the checkpoint rows the ledger holds, a transient failure retried
 * without real sleeping, and interruption releasing every connection and the run lock.
 */
import { writeFileSync, mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { expect, layer } from "@effect/vitest"
import { Effect, Exit, Fiber, Stream } from "effect"
import { TestClock } from "effect/testing"
import { loadPipeline } from "@polymath/dsl"
import { compile, execute, Reason } from "@polymath/engine"
import type { FailureReason, Plan, RunReport } from "@polymath/engine"
import { layerConfig as embedders } from "@polymath/embeddings"
import { InjectedFault, realConnectorsLayer } from "./connectors.ts"
import { cypherScalar, dsnFor, pgExec, pgRows, pgScalar, resetDatabase, resetGraph } from "./support.ts"

const db = "polymath_layer"
const label = "LayerItem"
const rows = 30
const pageSize = 5

const dir = mkdtempSync(join(tmpdir(), "layer-"))
const file = join(dir, "layer_items.yaml")
// base_ms of a minute: a retry that slept for real would outlast the test's timeout.
writeFileSync(file, `pipeline: layer_items
connections:
  pg: { postgres: { dsn: "${dsnFor(db)}" } }
  graph:
    neo4j: { uri: "\${env.NEO4J_URI}", user: "\${env.NEO4J_USER:-neo4j}", password: "\${env.NEO4J_PASSWORD:-}" }
sources:
  items: { connection: pg, key: item_id, page_size: ${pageSize}, sql: "SELECT item_id, name FROM items" }
steps:
  sync:
    retry: { attempts: 3, base_ms: 60000, max_ms: 60000 }
    graph:
      connection: graph
      nodes:
        - { label: ${label}, from: items, key: item_id, properties: [name] }
`)

/** What to do to the N-th page (1-based) the source reader hands out. */
type Fault = { readonly page: number; readonly reason: FailureReason; readonly once: boolean } | { readonly page: number; readonly hang: true }

/** The real connectors of the plan, the source reader's pages passed through `fault`. */
const connectorsLayer = (plan: Plan, fault: Fault | null) =>
  realConnectorsLayer(plan, ({ sql }) => {
    if (fault === null) return
    const real = sql.get("pg")!
    let handed = 0
    let fired = false
    sql.set("pg", {
      ...real,
      pages: (source, after) =>
        real.pages(source, after).pipe(Stream.mapEffect((page) => {
          handed++
          if (handed !== fault.page || fired) return Effect.succeed(page)
          if ("hang" in fault) return Effect.never
          if (fault.once) fired = true
          return Effect.fail(new InjectedFault({ reason: fault.reason, message: `injected ${fault.reason._tag} at page ${fault.page}` }))
        }))
    })
  })

const planOf = Effect.gen(function*() {
  const loaded = yield* loadPipeline(file, { set: [], allowMissingEnv: false })
  return compile(loaded, { force: false })
})

const runWith = (fault: Fault | null, resume: boolean) =>
  Effect.gen(function*() {
    const plan = yield* planOf
    return yield* execute(plan, { dryRun: false, resume }).pipe(Effect.provide(connectorsLayer(plan, fault)))
  })

const reset = Effect.promise(async () => {
  await resetDatabase(db)
  await pgExec(`CREATE TABLE items (item_id int PRIMARY KEY, name text NOT NULL); INSERT INTO items SELECT i, 'item ' || i FROM generate_series(1, ${rows}) i`, [], db)
  await resetGraph([label])
})

const nodes = Effect.promise(() => cypherScalar(`MATCH (n:${label}) RETURN count(n)`))
const unitOf = (report: RunReport) => report.units.find((u) => u.unit.includes(label))!

/** Drives virtual time forward while real I/O completes, until the fiber ends. */
const driveClock = <A, E>(fiber: Fiber.Fiber<A, E>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 2000; i++) {
      const done = yield* Fiber.await(fiber).pipe(Effect.timeoutOption(0))
      if (done._tag === "Some") return done.value
      yield* TestClock.adjust("10 seconds")
      yield* Effect.promise(() => new Promise((r) => setTimeout(r, 5)))
    }
    throw new Error("the run did not finish")
  })

// The model registry is a layer shared by the tests; the connectors are built per run, around its fault.
layer(embedders)("the interpreter on real services", (it) => {
  it.effect("a failure on page 3 stops the unit after two committed pages; the checkpoint says so; a resumed run finishes the rest", () =>
    Effect.gen(function*() {
      yield* reset
      const failed = yield* runWith({ page: 3, reason: new Reason.Syntax({ detail: "42601" }), once: true }, true).pipe(Effect.exit)
      expect(Exit.isFailure(failed)).toBe(true)
      if (Exit.isFailure(failed)) expect(String(failed.cause)).toContain("injected Syntax at page 3")
      const [run] = yield* Effect.promise(() => pgRows("SELECT run_id, status, error FROM polymath_etl.runs ORDER BY started_at DESC LIMIT 1", [], db) as Promise<Array<Record<string, unknown>>>)
      expect(run).toMatchObject({ status: "failed" })
      const units = yield* Effect.promise(() => pgRows("SELECT unit, last_key, done, counts FROM polymath_etl.run_units WHERE run_id = $1", [run!["run_id"]], db) as Promise<Array<Record<string, unknown>>>)
      expect(units).toHaveLength(1)
      // Keys are kept as the server renders them, so an int key resumes exactly.
      expect(units[0]).toMatchObject({ done: false, last_key: [String(2 * pageSize)] })
      expect(units[0]!["counts"]).toMatchObject({ read: 2 * pageSize, created: 2 * pageSize, rejected: 0 })
      expect(yield* nodes).toBe(2 * pageSize)

      const resumed = yield* runWith(null, true)
      expect(resumed.resumed).toBe(true)
      expect(resumed.runId).toBe(run!["run_id"])
      expect(unitOf(resumed)).toMatchObject({ read: rows, created: rows, status: "done" })
      expect(yield* nodes).toBe(rows)
      expect(yield* Effect.promise(() => pgScalar("SELECT count(*) FROM polymath_etl.runs WHERE status = 'succeeded'", [], db))).toBe(1)
    }), { timeout: 120_000 })

  it.effect("a transient failure is retried after its backoff in virtual time, counted, and loses no page", () =>
    Effect.gen(function*() {
      yield* reset
      const fiber = yield* runWith({ page: 4, reason: new Reason.ConnectionLost({ detail: "08006" }), once: true }, false).pipe(Effect.forkChild)
      const exit = yield* driveClock(fiber)
      expect(Exit.isSuccess(exit)).toBe(true)
      if (!Exit.isSuccess(exit)) return
      expect(unitOf(exit.value)).toMatchObject({ read: rows, created: rows, retried: 1, status: "done" })
      expect(yield* nodes).toBe(rows)
    }), { timeout: 120_000 })

  it.effect("interrupting a run releases every connection and the run lock, and records it as interrupted", () =>
    Effect.gen(function*() {
      yield* reset
      const fiber = yield* runWith({ page: 2, hang: true }, false).pipe(Effect.forkChild)
      // Wait (for real) until the first page is committed and the second is being read.
      for (let i = 0; i < 400 && (yield* nodes) < pageSize; i++) yield* Effect.promise(() => new Promise((r) => setTimeout(r, 25)))
      expect(yield* nodes).toBe(pageSize)
      yield* Fiber.interrupt(fiber)
      const left = yield* Effect.promise(() => pgScalar("SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'polymath-etl%'", [db], db))
      expect(left).toBe(0)
      expect(yield* Effect.promise(() => pgRows("SELECT status FROM polymath_etl.runs", [], db))).toEqual([{ status: "interrupted" }])
      // The lock is free: the next run resumes at once and finishes.
      const fiber2 = yield* runWith(null, true).pipe(Effect.forkChild)
      const exit = yield* driveClock(fiber2)
      expect(Exit.isSuccess(exit) && exit.value.resumed).toBe(true)
      expect(yield* nodes).toBe(rows)
    }), { timeout: 120_000 })
})

