import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { RejectedRow, RunIdentity, UnitCheckpoint, UnitCounts } from "@polymath/engine"
import { makePgConnector } from "../src/PgConnector.ts"
import { randomSuffix, testDsn, withAdmin } from "./support.ts"

// The ledger lives in the fixed polymath_etl schema; unique pipeline names keep these
// tests apart from other runs, and their rows are deleted afterwards.
const prefix = `test_pg_ledger_${randomSuffix()}`
const pipelineName = (label: string) => `${prefix}_${label}`

afterAll(async () => {
  await withAdmin(async (c) => {
    await c.query("DELETE FROM polymath_etl.cursors WHERE starts_with(pipeline, $1)", [prefix]).catch(() => undefined)
    await c.query("DELETE FROM polymath_etl.seen AS s USING polymath_etl.runs AS r WHERE s.run_id = r.run_id AND starts_with(r.pipeline, $1)", [prefix]).catch(() => undefined)
    await c.query("DELETE FROM polymath_etl.runs WHERE starts_with(pipeline, $1)", [prefix]).catch(() => undefined)
  })
}, 60_000)

const identity = (pipeline: string, overrides: Partial<RunIdentity> = {}): RunIdentity => ({
  pipeline,
  specHash: "spec-1",
  params: { since: "2024-01-01", limit: "10" },
  model: "bge-small",
  ...overrides
})

const counts = (read: number): UnitCounts => ({
  read,
  created: read - 4,
  updated: 1,
  unchanged: 1,
  rejected: 1,
  combined: 1,
  deleted: 3,
  retried: 2
})

const cp = (unit: string, lastKey: UnitCheckpoint["lastKey"], done: boolean, read: number): UnitCheckpoint => ({
  unit,
  lastKey,
  done,
  counts: counts(read)
})

const stores = { db: "pg:1:2:passages=3", graph: "neo4j:abc" }

const sql = <R>(text: string, params: ReadonlyArray<unknown> = []) =>
  Effect.promise(() => withAdmin(async (c) => (await c.query(text, params as Array<unknown>)).rows as Array<R>))

const runRow = (runId: string) =>
  Effect.map(
    sql<{ status: string; error: string | null; finished_at: Date | null; stores: unknown }>(
      "SELECT status, error, finished_at, stores FROM polymath_etl.runs WHERE run_id = $1",
      [runId]
    ),
    (rows) => rows[0]
  )

const seenCount = (runId: string) =>
  Effect.map(sql<{ n: string }>("SELECT count(*)::text AS n FROM polymath_etl.seen WHERE run_id = $1", [runId]), (r) => Number(r[0]?.n))

const connector = () => makePgConnector({ name: "ledger-test", dsn: testDsn() })

const id = (n: number) => Uint8Array.from({ length: 16 }, (_, i) => (i === 15 ? n : 0xab))

describe("Postgres run ledger", () => {
  it.effect("begin, checkpoint and finish record a run with its stores and full counts", () =>
    Effect.gen(function*() {
      const c = yield* connector()
      const pipeline = pipelineName("basic")
      expect(yield* c.ledger.resumable(identity(pipeline))).toBeNull()
      const handle = yield* Effect.scoped(
        Effect.gen(function*() {
          const h = yield* c.ledger.begin(identity(pipeline), { resume: null, stores })
          expect(h.resumed).toBe(false)
          expect(h.checkpoints.size).toBe(0)
          yield* c.ledger.checkpoint(h.runId, cp("embed:passages", ["64"], false, 64))
          yield* c.ledger.checkpoint(h.runId, cp("embed:passages", ["128"], false, 128))
          yield* c.ledger.checkpoint(h.runId, cp("graph:concepts", null, true, 0))
          return h
        })
      )
      expect(yield* runRow(handle.runId)).toMatchObject({ status: "running", stores })
      // Unfinished: resumable, with its checkpoints and stores.
      const candidate = yield* c.ledger.resumable(identity(pipeline, { params: { limit: "10", since: "2024-01-01" } }))
      expect(candidate?.runId).toBe(handle.runId)
      expect(candidate?.stores).toEqual(stores)
      expect([...(candidate?.checkpoints.values() ?? [])]).toEqual([
        { unit: "embed:passages", lastKey: ["128"], done: false, counts: counts(128) },
        { unit: "graph:concepts", lastKey: null, done: true, counts: counts(0) }
      ])
      yield* c.ledger.finish(handle.runId, "succeeded", null)
      expect(yield* runRow(handle.runId)).toMatchObject({ status: "succeeded", error: null })
      // A succeeded run is never resumed.
      expect(yield* c.ledger.resumable(identity(pipeline))).toBeNull()
      const next = yield* Effect.scoped(c.ledger.begin(identity(pipeline), { resume: handle.runId, stores }))
      expect(next.resumed).toBe(false)
      expect(next.runId).not.toBe(handle.runId)
      const unknown = yield* Effect.flip(c.ledger.finish("00000000-0000-0000-0000-000000000000", "failed", "x"))
      expect(unknown.reason).toMatchObject({ _tag: "Unavailable", detail: "UnknownRun" })
    }))

  it.effect("begin resumes the run it is given only while it is the latest unfinished one of its identity", () =>
    Effect.gen(function*() {
      const c = yield* connector()
      const pipeline = pipelineName("resume")
      // A run that "dies": its scope closes without finish, leaving status running.
      const first = yield* Effect.scoped(
        Effect.gen(function*() {
          const h = yield* c.ledger.begin(identity(pipeline), { resume: null, stores })
          yield* c.ledger.checkpoint(h.runId, cp("embed:passages", ["500", "b0012"], false, 500))
          yield* c.ledger.checkpoint(h.runId, cp("graph:docs", ["10"], true, 10))
          return h
        })
      )
      expect(yield* runRow(first.runId)).toMatchObject({ status: "running" })

      // Different params: not the same identity, so a new run even when asked to resume.
      const other = yield* Effect.scoped(
        c.ledger.begin(identity(pipeline, { params: { since: "2025-01-01", limit: "10" } }), { resume: first.runId, stores })
      )
      expect(other.resumed).toBe(false)
      // That begin found first's run still marked running while it held the lock: marked interrupted.
      expect(yield* runRow(first.runId)).toMatchObject({ status: "interrupted" })
      yield* c.ledger.finish(other.runId, "succeeded", null)

      // Same identity (params in another key order): resumed with its checkpoints, new stores recorded.
      const newStores = { db: "pg:1:2:passages=4" }
      const resumed = yield* Effect.scoped(
        Effect.gen(function*() {
          const h = yield* c.ledger.begin(identity(pipeline, { params: { limit: "10", since: "2024-01-01" } }), { resume: first.runId, stores: newStores })
          expect(yield* runRow(h.runId)).toMatchObject({ status: "running", finished_at: null, stores: newStores })
          yield* c.ledger.finish(h.runId, "failed", "boom")
          return h
        })
      )
      expect(resumed.resumed).toBe(true)
      expect(resumed.runId).toBe(first.runId)
      expect([...resumed.checkpoints.values()]).toEqual([
        { unit: "embed:passages", lastKey: ["500", "b0012"], done: false, counts: counts(500) },
        { unit: "graph:docs", lastKey: ["10"], done: true, counts: counts(10) }
      ])
      expect(yield* runRow(first.runId)).toMatchObject({ status: "failed", error: "boom" })

      // A failed run is resumed too; a different model is another identity.
      expect(yield* Effect.scoped(c.ledger.begin(identity(pipeline), { resume: first.runId, stores }))).toMatchObject({
        runId: first.runId,
        resumed: true
      })
      expect(yield* c.ledger.resumable(identity(pipeline, { model: null }))).toBeNull()
      // Without resume a new run starts, and from then on the old one is no candidate.
      const fresh = yield* Effect.scoped(c.ledger.begin(identity(pipeline), { resume: null, stores }))
      expect(fresh.resumed).toBe(false)
      expect(fresh.runId).not.toBe(first.runId)
      expect(fresh.checkpoints.size).toBe(0)
      expect((yield* c.ledger.resumable(identity(pipeline)))?.runId).toBe(fresh.runId)
      const stale = yield* Effect.scoped(c.ledger.begin(identity(pipeline), { resume: first.runId, stores }))
      expect(stale.resumed).toBe(false)
      expect(stale.runId).not.toBe(first.runId)
    }))

  it.effect("finish(succeeded) promotes the run's cursor windows and drops its seen set; a failed finish keeps both", () =>
    Effect.gen(function*() {
      const c = yield* connector()
      const pipeline = pipelineName("cursors")
      const ident = identity(pipeline)
      expect(yield* c.ledger.lastCursor(ident, "passages", "q1")).toBeNull()

      const failed = yield* Effect.scoped(
        Effect.gen(function*() {
          const h = yield* c.ledger.begin(ident, { resume: null, stores })
          expect(yield* c.ledger.cursorWindow(h.runId, "passages")).toBeNull()
          yield* c.ledger.saveCursorWindow(h.runId, "passages", "q1", { from: null, to: "2024-03-01 12:00:00+00" })
          yield* c.ledger.markSeen(h.runId, "graph:Paper", [id(1), id(2)])
          yield* c.ledger.finish(h.runId, "failed", "boom")
          return h
        })
      )
      expect(yield* c.ledger.lastCursor(ident, "passages", "q1")).toBeNull()
      expect(yield* seenCount(failed.runId)).toBe(2)

      // Resumed: reads the same window, then succeeds.
      yield* Effect.scoped(
        Effect.gen(function*() {
          const h = yield* c.ledger.begin(ident, { resume: failed.runId, stores })
          expect(h.resumed).toBe(true)
          expect(yield* seenCount(h.runId)).toBe(2)
          expect(yield* c.ledger.cursorWindow(h.runId, "passages")).toEqual({ from: null, to: "2024-03-01 12:00:00+00" })
          // A source with no rows has no upper bound: nothing to promote for it.
          yield* c.ledger.saveCursorWindow(h.runId, "empty", "q9", { from: null, to: null })
          yield* c.ledger.finish(h.runId, "succeeded", null)
        })
      )
      expect(yield* seenCount(failed.runId)).toBe(0)
      expect(yield* c.ledger.lastCursor(ident, "passages", "q1")).toBe("2024-03-01 12:00:00+00")
      expect(yield* c.ledger.lastCursor(ident, "empty", "q9")).toBeNull()
      // The source's query changed: its old mark does not apply.
      expect(yield* c.ledger.lastCursor(ident, "passages", "q2")).toBeNull()
      // Other params have their own marks; spec hash and model do not matter.
      expect(yield* c.ledger.lastCursor(identity(pipeline, { params: { since: "2030" } }), "passages", "q1")).toBeNull()
      expect(yield* c.ledger.lastCursor(identity(pipeline, { specHash: "spec-2", model: null }), "passages", "q1")).toBe("2024-03-01 12:00:00+00")

      // The next run moves the mark; saving a window twice keeps the last.
      yield* Effect.scoped(
        Effect.gen(function*() {
          const h = yield* c.ledger.begin(ident, { resume: null, stores })
          yield* c.ledger.saveCursorWindow(h.runId, "passages", "q2", { from: "2024-03-01 12:00:00+00", to: "2024-03-02" })
          yield* c.ledger.saveCursorWindow(h.runId, "passages", "q2", { from: "2024-03-01 12:00:00+00", to: "2024-03-03" })
          yield* c.ledger.finish(h.runId, "succeeded", null)
        })
      )
      expect(yield* c.ledger.lastCursor(ident, "passages", "q2")).toBe("2024-03-03")
      expect(yield* c.ledger.lastCursor(ident, "passages", "q1")).toBeNull()
    }))

  it.effect("markSeen is idempotent and unseen lists the positions seen by none of the units in that run", () =>
    Effect.gen(function*() {
      const c = yield* connector()
      const pipeline = pipelineName("seen")
      yield* Effect.scoped(
        Effect.gen(function*() {
          const h = yield* c.ledger.begin(identity(pipeline), { resume: null, stores })
          yield* c.ledger.markSeen(h.runId, "graph:Paper", [id(1), id(2), id(3)])
          yield* c.ledger.markSeen(h.runId, "graph:Paper", [id(2), id(3), id(4), id(4)])
          yield* c.ledger.markSeen(h.runId, "graph:Concept", [id(9)])
          yield* c.ledger.markSeen(h.runId, "graph:Paper", [])
          expect(yield* seenCount(h.runId)).toBe(5)
          expect(yield* c.ledger.unseen(h.runId, ["graph:Paper"], [id(5), id(1), id(9), id(4), id(6)])).toEqual([0, 2, 4])
          // Seen by either of two units: only what neither recorded.
          expect(yield* c.ledger.unseen(h.runId, ["graph:Paper", "graph:Concept"], [id(5), id(1), id(9), id(4), id(6)])).toEqual([0, 4])
          expect(yield* c.ledger.unseen(h.runId, [], [id(1), id(9)])).toEqual([0, 1])
          expect(yield* c.ledger.unseen(h.runId, ["graph:Concept"], [id(9), id(1)])).toEqual([1])
          expect(yield* c.ledger.unseen(h.runId, ["graph:Paper"], [])).toEqual([])
          // A Buffer slice (as node:crypto hands out) is read at its offset.
          const padded = Buffer.concat([Buffer.from([7, 7, 7]), Buffer.from(id(1))]).subarray(3)
          expect(yield* c.ledger.unseen(h.runId, ["graph:Paper"], [padded])).toEqual([])
        })
      )
    }))

  it.effect("claimRange hands each range out once, lowest first, the same one again under the same claim, then null", () =>
    Effect.gen(function*() {
      const c = yield* connector()
      const pipeline = pipelineName("claims")
      yield* Effect.scoped(
        Effect.gen(function*() {
          const h = yield* c.ledger.begin(identity(pipeline), { resume: null, stores })
          const scope = `exec-${randomSuffix()}/embed_passages`
          expect(yield* c.ledger.claimRange(h.runId, scope, 3, "a/0")).toBe(0)
          expect(yield* c.ledger.claimRange(h.runId, scope, 3, "b/0")).toBe(1)
          // A claimant that asks again under a name it used (it replayed) gets its range back.
          expect(yield* c.ledger.claimRange(h.runId, scope, 3, "a/0")).toBe(0)
          expect(yield* c.ledger.claimRange(h.runId, scope, 3, "a/1")).toBe(2)
          expect(yield* c.ledger.claimRange(h.runId, scope, 3, "b/1")).toBeNull()
          expect(yield* c.ledger.claimRange(h.runId, scope, 3, "a/1")).toBe(2)
          // Another scope (another execution or unit) has its own ranges.
          expect(yield* c.ledger.claimRange(h.runId, `${scope}-other`, 3, "a/0")).toBe(0)
          // Many claimants at once: 40 ranges, 60 claims racing, each range exactly once.
          const race = `exec-${randomSuffix()}/sync_graph`
          const got = yield* Effect.forEach(Array.from({ length: 60 }, (_, i) => `c${i}/0`), (claim) => c.ledger.claimRange(h.runId, race, 40, claim), { concurrency: 20 })
          const claimed = got.filter((g): g is number => g !== null).sort((a, b) => a - b)
          expect(claimed).toEqual(Array.from({ length: 40 }, (_, i) => i))
          expect(got.filter((g) => g === null)).toHaveLength(20)
        })
      )
    }))

  it.effect("begin drops the seen sets of runs that can no longer be resumed, and keeps the others", () =>
    Effect.gen(function*() {
      const c = yield* connector()
      const pipeline = pipelineName("seen-gc")
      const dies = (ident: RunIdentity) =>
        Effect.scoped(
          Effect.gen(function*() {
            const h = yield* c.ledger.begin(ident, { resume: null, stores })
            yield* c.ledger.markSeen(h.runId, "u", [id(1), id(2)])
            return h
          })
        )
      const a = yield* dies(identity(pipeline))
      const b = yield* dies(identity(pipeline, { params: { since: "2025" } }))
      // a is still the latest run of its identity: resumable, so its set stays.
      expect(yield* seenCount(a.runId)).toBe(2)
      // Resuming a keeps its set; a new run of a's identity supersedes it.
      const resumed = yield* Effect.scoped(c.ledger.begin(identity(pipeline), { resume: a.runId, stores }))
      expect(resumed.resumed).toBe(true)
      expect(yield* seenCount(a.runId)).toBe(2)
      yield* Effect.scoped(c.ledger.begin(identity(pipeline), { resume: null, stores }))
      expect(yield* seenCount(a.runId)).toBe(0)
      expect(yield* seenCount(b.runId)).toBe(2)
      // seen has no foreign key (its check per row was most of the cost of recording a
      // page); the set of a run deleted from the ledger goes at the next begin of any pipeline.
      expect(yield* sql("SELECT 1 FROM pg_constraint WHERE conrelid = 'polymath_etl.seen'::regclass AND contype = 'f'")).toEqual([])
      yield* sql("DELETE FROM polymath_etl.runs WHERE run_id = $1", [b.runId])
      expect(yield* seenCount(b.runId)).toBe(2)
      yield* Effect.scoped(c.ledger.begin(identity(pipelineName("seen-gc-other")), { resume: null, stores }))
      expect(yield* seenCount(b.runId)).toBe(0)
    }))

  it.effect("a ledger made when seen had a foreign key to runs is upgraded: the key is dropped", () =>
    Effect.gen(function*() {
      // What earlier versions created; the next connector that uses the ledger drops it.
      yield* sql(`DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'seen_run_id_fkey') THEN
          ALTER TABLE polymath_etl.seen ADD CONSTRAINT seen_run_id_fkey FOREIGN KEY (run_id) REFERENCES polymath_etl.runs (run_id) ON DELETE CASCADE NOT VALID;
        END IF; END $$`)
      const c = yield* connector()
      const h = yield* Effect.scoped(c.ledger.begin(identity(pipelineName("fk-upgrade")), { resume: null, stores }))
      yield* c.ledger.markSeen(h.runId, "u", [id(1)])
      expect(yield* sql("SELECT 1 FROM pg_constraint WHERE conrelid = 'polymath_etl.seen'::regclass AND contype = 'f'")).toEqual([])
    }))

  it.effect("reject is idempotent per unit and key; rejected counts them and lists the first in order", () =>
    Effect.gen(function*() {
      const c = yield* connector()
      const pipeline = pipelineName("reject")
      const row = (unit: string, key: RejectedRow["key"], reason: string): RejectedRow => ({ step: "graph", unit, source: "passages", key, reason })
      yield* Effect.scoped(
        Effect.gen(function*() {
          const h = yield* c.ledger.begin(identity(pipeline), { resume: null, stores })
          expect(yield* c.ledger.rejected(h.runId, 10)).toEqual({ count: 0, rows: [] })
          yield* c.ledger.reject(h.runId, [row("graph:Paper", ["3"], "missing endpoint"), row("graph:Paper", ["1", "a"], "NULL name")])
          // A re-done batch: the same keys again (one twice in the batch), plus a new one.
          yield* c.ledger.reject(h.runId, [
            row("graph:Paper", ["3"], "first"),
            row("graph:Paper", ["3"], "missing endpoint again"),
            row("graph:Concept", ["3"], "other unit"),
            row("graph:Paper", ["2"], "bad type")
          ])
          yield* c.ledger.reject(h.runId, [])
          const all = yield* c.ledger.rejected(h.runId, 10)
          expect(all.count).toBe(4)
          expect(all.rows).toEqual([
            row("graph:Paper", ["3"], "missing endpoint again"),
            row("graph:Paper", ["1", "a"], "NULL name"),
            row("graph:Concept", ["3"], "other unit"),
            row("graph:Paper", ["2"], "bad type")
          ])
          expect(yield* c.ledger.rejected(h.runId, 2)).toEqual({ count: 4, rows: all.rows.slice(0, 2) })
          expect((yield* c.ledger.rejected(h.runId, 0)).count).toBe(4)
        })
      )
    }))

  it.effect("a second concurrent begin on the same pipeline fails with RunInProgress until the scope closes", () =>
    Effect.gen(function*() {
      const a = yield* connector()
      const b = yield* connector()
      const pipeline = pipelineName("lock")
      yield* Effect.scoped(
        Effect.gen(function*() {
          const h = yield* a.ledger.begin(identity(pipeline), { resume: null, stores })
          const clash = yield* Effect.flip(Effect.scoped(b.ledger.begin(identity(pipeline), { resume: null, stores })))
          expect(clash).toMatchObject({ _tag: "PgError", reason: { _tag: "Unavailable", detail: "RunInProgress" }, isRetryable: false })
          expect(clash.message).toBe(`another run of pipeline "${pipeline}" is in progress`)
          // Same process, same connector: still excluded (the lock is per connection, not per process).
          const self = yield* Effect.flip(Effect.scoped(a.ledger.begin(identity(pipeline), { resume: h.runId, stores })))
          expect(self.reason).toMatchObject({ _tag: "Unavailable", detail: "RunInProgress" })
          // Other pipelines are not blocked.
          yield* Effect.scoped(b.ledger.begin(identity(pipelineName("lock-other")), { resume: null, stores }))
          yield* a.ledger.finish(h.runId, "succeeded", null)
        })
      )
      // Released at scope close.
      const h2 = yield* Effect.scoped(b.ledger.begin(identity(pipeline), { resume: null, stores }))
      expect(h2.resumed).toBe(false)
    }))

  it.live("the lock dies with its connection, and the dead run can no longer checkpoint", () =>
    Effect.gen(function*() {
      const a = yield* connector()
      const b = yield* connector()
      const pipeline = pipelineName("killed")
      yield* Effect.scoped(
        Effect.gen(function*() {
          const h = yield* a.ledger.begin(identity(pipeline), { resume: null, stores })
          yield* a.ledger.checkpoint(h.runId, cp("u", ["1"], false, 1))
          // Simulates a SIGKILLed process: the server drops the session and its advisory lock.
          const killed = yield* sql<{ killed: boolean }>(
            `SELECT pg_terminate_backend(l.pid) AS killed FROM pg_locks l
              WHERE l.locktype = 'advisory' AND l.classid = hashtext('polymath_etl.run')::oid AND l.objid = hashtext($1)::oid`,
            [pipeline]
          )
          expect(killed).toEqual([{ killed: true }])
          yield* Effect.sleep("300 millis")
          const candidate = yield* b.ledger.resumable(identity(pipeline))
          expect(candidate?.runId).toBe(h.runId)
          const h2 = yield* Effect.scoped(b.ledger.begin(identity(pipeline), { resume: h.runId, stores }))
          expect(h2).toMatchObject({ runId: h.runId, resumed: true })
          const lost = yield* Effect.flip(a.ledger.checkpoint(h.runId, cp("u", ["2"], false, 2)))
          expect(lost).toMatchObject({ reason: { _tag: "Unavailable", detail: "LockLost" }, isRetryable: false })
        })
      )
    }))

  it.effect("concurrent begins on different pipelines all succeed (ledger DDL is serialised)", () =>
    Effect.gen(function*() {
      const conns = yield* Effect.all([connector(), connector(), connector()])
      const handles = yield* Effect.forEach(
        conns,
        (c, i) => Effect.scoped(c.ledger.begin(identity(pipelineName(`ddl${i}`)), { resume: null, stores })),
        { concurrency: "unbounded" }
      )
      expect(new Set(handles.map((h) => h.runId)).size).toBe(3)
    }))

  it.effect("units checkpointed before counts existed resume with their old columns", () =>
    Effect.gen(function*() {
      const c = yield* connector()
      const pipeline = pipelineName("legacy")
      const h = yield* Effect.scoped(c.ledger.begin(identity(pipeline), { resume: null, stores }))
      yield* sql(
        `INSERT INTO polymath_etl.run_units (run_id, unit, last_key, done, rows_read, rows_written, rows_skipped, retried)
         VALUES ($1, 'embed:old', '["7"]', false, 7, 5, 2, 1)`,
        [h.runId]
      )
      const candidate = yield* c.ledger.resumable(identity(pipeline))
      expect(candidate?.checkpoints.get("embed:old")).toEqual({
        unit: "embed:old",
        lastKey: ["7"],
        done: false,
        counts: { read: 7, created: 0, updated: 5, unchanged: 2, rejected: 0, combined: 0, deleted: 0, retried: 1 }
      })
    }))
})
