import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { RunIdentity, UnitCheckpoint } from "@polymath/engine"
import { makePgConnector } from "../src/PgConnector.ts"
import { randomSuffix, testDsn, withAdmin } from "./support.ts"

// The ledger lives in the fixed polymath_etl schema; unique pipeline names keep these
// tests apart from other runs, and their rows are deleted afterwards.
const prefix = `test_pg_ledger_${randomSuffix()}`
const pipelineName = (label: string) => `${prefix}_${label}`

afterAll(async () => {
  await withAdmin((c) => c.query("DELETE FROM polymath_etl.runs WHERE pipeline LIKE $1", [`${prefix}%`]).catch(() => undefined))
}, 60_000)

const identity = (pipeline: string, overrides: Partial<RunIdentity> = {}): RunIdentity => ({
  pipeline,
  specHash: "spec-1",
  params: { since: "2024-01-01", limit: "10" },
  model: "bge-small",
  ...overrides
})

const cp = (unit: string, lastKey: UnitCheckpoint["lastKey"], done: boolean, read: number): UnitCheckpoint => ({
  unit,
  lastKey,
  done,
  counts: { read, written: read - 1, skipped: 1, retried: 2 }
})

const runRow = (runId: string) =>
  Effect.promise(() =>
    withAdmin(async (c) => (await c.query("SELECT status, error, finished_at FROM polymath_etl.runs WHERE run_id = $1", [runId])).rows[0])
  )

const connector = () => makePgConnector({ name: "ledger-test", dsn: testDsn() })

describe("Postgres run ledger", () => {
  it.effect("begin, checkpoint and finish record a run", () =>
    Effect.gen(function*() {
      const c = yield* connector()
      const pipeline = pipelineName("basic")
      const handle = yield* Effect.scoped(
        Effect.gen(function*() {
          const h = yield* c.ledger.begin(identity(pipeline), { resume: true })
          expect(h.resumed).toBe(false)
          expect(h.checkpoints.size).toBe(0)
          yield* c.ledger.checkpoint(h.runId, cp("embed:passages", ["64"], false, 64))
          yield* c.ledger.checkpoint(h.runId, cp("embed:passages", ["128"], false, 128))
          yield* c.ledger.checkpoint(h.runId, cp("graph:concepts", null, true, 0))
          yield* c.ledger.finish(h.runId, "succeeded", null)
          return h
        })
      )
      expect(yield* runRow(handle.runId)).toMatchObject({ status: "succeeded", error: null })
      const units = yield* c.query({
        text: "SELECT unit, last_key, done, rows_read, rows_written, rows_skipped, retried FROM polymath_etl.run_units WHERE run_id = $1 ORDER BY unit",
        params: [handle.runId]
      })
      expect(units).toEqual([
        { unit: "embed:passages", last_key: ["128"], done: false, rows_read: 128n, rows_written: 127n, rows_skipped: 1n, retried: 2n },
        { unit: "graph:concepts", last_key: null, done: true, rows_read: 0n, rows_written: -1n, rows_skipped: 1n, retried: 2n }
      ])
      // A succeeded run is never resumed.
      const next = yield* Effect.scoped(c.ledger.begin(identity(pipeline), { resume: true }))
      expect(next.resumed).toBe(false)
      expect(next.runId).not.toBe(handle.runId)
      const unknown = yield* Effect.flip(c.ledger.finish("00000000-0000-0000-0000-000000000000", "failed", "x"))
      expect(unknown.reason).toBe("UnknownRun")
    }))

  it.effect("resume continues the unfinished run of the same identity with its checkpoints", () =>
    Effect.gen(function*() {
      const c = yield* connector()
      const pipeline = pipelineName("resume")
      // A run that "dies": its scope closes without finish, leaving status running.
      const first = yield* Effect.scoped(
        Effect.gen(function*() {
          const h = yield* c.ledger.begin(identity(pipeline), { resume: true })
          yield* c.ledger.checkpoint(h.runId, cp("embed:passages", ["500", "b0012"], false, 500))
          yield* c.ledger.checkpoint(h.runId, cp("graph:docs", ["10"], true, 10))
          return h
        })
      )
      expect(yield* runRow(first.runId)).toMatchObject({ status: "running" })

      // Different params or model: not the same identity, so a new run.
      const other = yield* Effect.scoped(c.ledger.begin(identity(pipeline, { params: { since: "2025-01-01", limit: "10" } }), { resume: true }))
      expect(other.resumed).toBe(false)
      // That begin found first's run still marked running while it held the lock: marked interrupted.
      expect(yield* runRow(first.runId)).toMatchObject({ status: "interrupted" })
      yield* c.ledger.finish(other.runId, "succeeded", null)

      // Same identity (params in another key order): resumed with its checkpoints.
      const resumed = yield* Effect.scoped(
        Effect.gen(function*() {
          const h = yield* c.ledger.begin(identity(pipeline, { params: { limit: "10", since: "2024-01-01" } }), { resume: true })
          expect(yield* runRow(h.runId)).toMatchObject({ status: "running", finished_at: null })
          yield* c.ledger.finish(h.runId, "failed", "boom")
          return h
        })
      )
      expect(resumed.resumed).toBe(true)
      expect(resumed.runId).toBe(first.runId)
      expect([...resumed.checkpoints.values()]).toEqual([
        { unit: "embed:passages", lastKey: ["500", "b0012"], done: false, counts: { read: 500, written: 499, skipped: 1, retried: 2 } },
        { unit: "graph:docs", lastKey: ["10"], done: true, counts: { read: 10, written: 9, skipped: 1, retried: 2 } }
      ])
      expect(yield* runRow(first.runId)).toMatchObject({ status: "failed", error: "boom" })

      // A failed run is resumed too; without resume a new run starts.
      const again = yield* Effect.scoped(c.ledger.begin(identity(pipeline), { resume: true }))
      expect(again).toMatchObject({ runId: first.runId, resumed: true })
      const fresh = yield* Effect.scoped(c.ledger.begin(identity(pipeline), { resume: false }))
      expect(fresh.resumed).toBe(false)
      expect(fresh.runId).not.toBe(first.runId)
      expect(fresh.checkpoints.size).toBe(0)
    }))

  it.effect("a second concurrent begin on the same pipeline fails with RunInProgress until the scope closes", () =>
    Effect.gen(function*() {
      const a = yield* connector()
      const b = yield* connector()
      const pipeline = pipelineName("lock")
      yield* Effect.scoped(
        Effect.gen(function*() {
          const h = yield* a.ledger.begin(identity(pipeline), { resume: false })
          const clash = yield* Effect.flip(Effect.scoped(b.ledger.begin(identity(pipeline), { resume: false })))
          expect(clash).toMatchObject({ _tag: "PgError", reason: "RunInProgress", isRetryable: false })
          expect(clash.message).toBe(`another run of pipeline "${pipeline}" is in progress`)
          // Same process, same connector: still excluded (the lock is per connection, not per process).
          const self = yield* Effect.flip(Effect.scoped(a.ledger.begin(identity(pipeline), { resume: false })))
          expect(self.reason).toBe("RunInProgress")
          // Other pipelines are not blocked.
          yield* Effect.scoped(b.ledger.begin(identity(pipelineName("lock-other")), { resume: false }))
          yield* a.ledger.finish(h.runId, "succeeded", null)
        })
      )
      // Released at scope close.
      const h2 = yield* Effect.scoped(b.ledger.begin(identity(pipeline), { resume: false }))
      expect(h2.resumed).toBe(false)
    }))

  it.live("the lock dies with its connection, and the dead run can no longer checkpoint", () =>
    Effect.gen(function*() {
      const a = yield* connector()
      const b = yield* connector()
      const pipeline = pipelineName("killed")
      yield* Effect.scoped(
        Effect.gen(function*() {
          const h = yield* a.ledger.begin(identity(pipeline), { resume: true })
          yield* a.ledger.checkpoint(h.runId, cp("u", ["1"], false, 1))
          // Simulates a SIGKILLed process: the server drops the session and its advisory lock.
          const killed = yield* Effect.promise(() =>
            withAdmin(async (c) =>
              (await c.query(
                `SELECT pg_terminate_backend(l.pid) AS killed FROM pg_locks l
                  WHERE l.locktype = 'advisory' AND l.classid = hashtext('polymath_etl.run')::oid AND l.objid = hashtext($1)::oid`,
                [pipeline]
              )).rows
            )
          )
          expect(killed).toEqual([{ killed: true }])
          yield* Effect.sleep("300 millis")
          const h2 = yield* Effect.scoped(b.ledger.begin(identity(pipeline), { resume: true }))
          expect(h2).toMatchObject({ runId: h.runId, resumed: true })
          const lost = yield* Effect.flip(a.ledger.checkpoint(h.runId, cp("u", ["2"], false, 2)))
          expect(lost).toMatchObject({ reason: "LockLost", isRetryable: false })
        })
      )
    }))

  it.effect("concurrent begins on different pipelines all succeed (ledger DDL is serialised)", () =>
    Effect.gen(function*() {
      const conns = yield* Effect.all([connector(), connector(), connector()])
      const handles = yield* Effect.forEach(
        conns,
        (c, i) => Effect.scoped(c.ledger.begin(identity(pipelineName(`ddl${i}`)), { resume: false })),
        { concurrency: "unbounded" }
      )
      expect(new Set(handles.map((h) => h.runId)).size).toBe(3)
    }))
})
