import { Effect } from "effect"
import type { Scope } from "effect"
import type pg from "pg"
import type { KeyTuple, RunHandle, RunIdentity, RunLedger, RunStatus, UnitCheckpoint } from "@polymath/engine"
import { pgFailure, toPgError } from "./PgError.ts"
import type { PgError } from "./PgError.ts"
import { runQuery } from "./PgPool.ts"

/** The schema that holds the ledger tables (`runs`, `run_units`); the SQL below spells it out. */
export const LEDGER_SCHEMA = "polymath_etl"

// One multi-statement simple query runs as a single implicit transaction, so the
// transaction-scoped advisory lock serialises concurrent first runs: without it two
// processes racing on CREATE ... IF NOT EXISTS can fail with a duplicate-key error.
const DDL = `
SELECT pg_advisory_xact_lock(hashtext('polymath_etl.ddl'));
CREATE SCHEMA IF NOT EXISTS polymath_etl;
CREATE TABLE IF NOT EXISTS polymath_etl.runs (
  run_id      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  pipeline    text NOT NULL,
  spec_hash   text NOT NULL,
  params      jsonb NOT NULL DEFAULT '{}'::jsonb,
  model       text,
  status      text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted')),
  error       text,
  started_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);
CREATE INDEX IF NOT EXISTS runs_pipeline_started_idx ON polymath_etl.runs (pipeline, started_at DESC);
CREATE TABLE IF NOT EXISTS polymath_etl.run_units (
  run_id       uuid NOT NULL REFERENCES polymath_etl.runs (run_id) ON DELETE CASCADE,
  unit         text NOT NULL,
  last_key     jsonb,
  done         boolean NOT NULL DEFAULT false,
  rows_read    bigint NOT NULL DEFAULT 0,
  rows_written bigint NOT NULL DEFAULT 0,
  rows_skipped bigint NOT NULL DEFAULT 0,
  retried      bigint NOT NULL DEFAULT 0,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, unit)
);
`

// The two-key advisory lock form keeps our pipeline locks in their own key space, so a
// `hashtext(pipeline)` lock taken by some other application cannot block us.
const LOCK_ARGS = "hashtext('polymath_etl.run'), hashtext($1)"

interface UnitRow {
  readonly unit: string
  readonly last_key: KeyTuple | null
  readonly done: boolean
  readonly rows_read: bigint
  readonly rows_written: bigint
  readonly rows_skipped: bigint
  readonly retried: bigint
}

const toCheckpoint = (row: UnitRow): UnitCheckpoint => ({
  unit: row.unit,
  lastKey: row.last_key,
  done: row.done,
  counts: {
    read: Number(row.rows_read),
    written: Number(row.rows_written),
    skipped: Number(row.rows_skipped),
    retried: Number(row.retried)
  }
})

/** The pipeline lock's connection, held for the lifetime of the run's scope. */
interface LockHolder {
  readonly client: pg.PoolClient
  readonly pipeline: string
  /** Set when the connection dies: the server has then released the lock. */
  lost: boolean
  readonly onError: () => void
}

const runInProgress = (pipeline: string): PgError =>
  pgFailure("RunInProgress", `another run of pipeline ${JSON.stringify(pipeline)} is in progress`)

/**
 * A RunLedger kept in the `polymath_etl` schema of the given pool's database. Tables are
 * created on first use. The pipeline lock is a session-level advisory lock on a dedicated
 * connection, so it also disappears when the process is killed and its connection drops.
 */
export const makePgRunLedger = (pool: pg.Pool): RunLedger => {
  let schemaReady = false
  // The lock of each run begun here; if its connection dies, writing more checkpoints
  // could interleave with a new run that has since taken the lock.
  const holders = new Map<string, LockHolder>()

  const ensureSchema: Effect.Effect<void, PgError> = Effect.suspend(() =>
    schemaReady
      ? Effect.void
      : Effect.map(runQuery(pool, "creating the run ledger tables", DDL), () => {
        schemaReady = true
      })
  )

  const acquireLock = (pipeline: string): Effect.Effect<LockHolder, PgError> =>
    Effect.gen(function*() {
      const context = `locking pipeline ${JSON.stringify(pipeline)}`
      const client = yield* Effect.tryPromise({ try: () => pool.connect(), catch: (e) => toPgError(e, context) })
      const holder: LockHolder = {
        client,
        pipeline,
        lost: false,
        // A checked-out client has no listener from the pool; an unhandled 'error' would crash Node.
        onError: () => {
          holder.lost = true
        }
      }
      client.on("error", holder.onError)
      // Named so operators (and tests) can tell the lock's session from the workers'.
      const locked = yield* runQuery(
        client,
        context,
        `SELECT pg_try_advisory_lock(${LOCK_ARGS}) AS locked, set_config('application_name', current_setting('application_name') || ':run-lock', false)`,
        [pipeline]
      ).pipe(
        Effect.tapError(() => Effect.sync(() => client.release(true)))
      )
      if (locked.rows[0]?.locked !== true) {
        client.off("error", holder.onError)
        client.release()
        return yield* runInProgress(pipeline)
      }
      return holder
    })

  const releaseLock = (holder: LockHolder): Effect.Effect<void> =>
    Effect.promise(async () => {
      if (holder.lost) {
        holder.client.release(true)
        return
      }
      try {
        await holder.client.query(`SELECT pg_advisory_unlock(${LOCK_ARGS})`, [holder.pipeline])
        holder.client.off("error", holder.onError)
        // Not back into the pool: the session carries the lock's application_name.
        holder.client.release(true)
      } catch (e) {
        // Destroying the connection releases the session lock on the server as well.
        holder.client.release(e instanceof Error ? e : true)
      }
    })

  const begin = (identity: RunIdentity, options: { readonly resume: boolean }): Effect.Effect<RunHandle, PgError, Scope.Scope> =>
    Effect.gen(function*() {
      yield* ensureSchema
      const holder = yield* Effect.acquireRelease(acquireLock(identity.pipeline), releaseLock)
      const client = holder.client
      const context = `starting a run of pipeline ${JSON.stringify(identity.pipeline)}`
      // We hold the pipeline lock, so any run still marked running belongs to a dead process.
      yield* runQuery(
        client,
        context,
        `UPDATE polymath_etl.runs
            SET status = 'interrupted', finished_at = now(), updated_at = now(),
                error = coalesce(error, 'the process running it exited without finishing')
          WHERE pipeline = $1 AND status = 'running'`,
        [identity.pipeline]
      )
      const params = JSON.stringify(identity.params)
      let handle: RunHandle | undefined
      if (options.resume) {
        // Only the latest run with this identity is a candidate: once a newer run has
        // succeeded, an older failed one must not be continued.
        const latest = yield* runQuery(
          client,
          context,
          `SELECT run_id::text AS run_id, status FROM polymath_etl.runs
            WHERE pipeline = $1 AND spec_hash = $2 AND params = $3::jsonb AND model IS NOT DISTINCT FROM $4
            ORDER BY started_at DESC LIMIT 1`,
          [identity.pipeline, identity.specHash, params, identity.model]
        )
        const row = latest.rows[0] as { run_id: string; status: string } | undefined
        if (row !== undefined && row.status !== "succeeded") {
          yield* runQuery(
            client,
            context,
            `UPDATE polymath_etl.runs SET status = 'running', error = NULL, finished_at = NULL, updated_at = now() WHERE run_id = $1`,
            [row.run_id]
          )
          const units = yield* runQuery(
            client,
            context,
            `SELECT unit, last_key, done, rows_read, rows_written, rows_skipped, retried
               FROM polymath_etl.run_units WHERE run_id = $1 ORDER BY unit`,
            [row.run_id]
          )
          const checkpoints = new Map((units.rows as Array<UnitRow>).map((u) => [u.unit, toCheckpoint(u)] as const))
          handle = { runId: row.run_id, resumed: true, checkpoints }
        }
      }
      if (handle === undefined) {
        const inserted = yield* runQuery(
          client,
          context,
          `INSERT INTO polymath_etl.runs (pipeline, spec_hash, params, model, status)
           VALUES ($1, $2, $3::jsonb, $4, 'running') RETURNING run_id::text AS run_id`,
          [identity.pipeline, identity.specHash, params, identity.model]
        )
        handle = { runId: (inserted.rows[0] as { run_id: string }).run_id, resumed: false, checkpoints: new Map() }
      }
      const runId = handle.runId
      holders.set(runId, holder)
      yield* Effect.addFinalizer(() => Effect.sync(() => holders.delete(runId)))
      return handle
    })

  const checkpoint = (runId: string, cp: UnitCheckpoint): Effect.Effect<void, PgError> =>
    Effect.gen(function*() {
      if (holders.get(runId)?.lost === true) {
        return yield* pgFailure(
          "LockLost",
          `run ${runId}: the connection holding the pipeline lock was lost, so another run may have started; not recording unit ${JSON.stringify(cp.unit)}`
        )
      }
      yield* ensureSchema
      yield* runQuery(
        pool,
        `checkpointing unit ${JSON.stringify(cp.unit)} of run ${runId}`,
        `WITH up AS (
           INSERT INTO polymath_etl.run_units
             (run_id, unit, last_key, done, rows_read, rows_written, rows_skipped, retried, updated_at)
           VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8, now())
           ON CONFLICT (run_id, unit) DO UPDATE SET
             last_key = EXCLUDED.last_key, done = EXCLUDED.done,
             rows_read = EXCLUDED.rows_read, rows_written = EXCLUDED.rows_written,
             rows_skipped = EXCLUDED.rows_skipped, retried = EXCLUDED.retried, updated_at = now()
           RETURNING run_id)
         UPDATE polymath_etl.runs SET updated_at = now() WHERE run_id IN (SELECT run_id FROM up)`,
        [
          runId,
          cp.unit,
          cp.lastKey === null ? null : JSON.stringify(cp.lastKey),
          cp.done,
          cp.counts.read,
          cp.counts.written,
          cp.counts.skipped,
          cp.counts.retried
        ]
      )
    })

  const finish = (runId: string, status: RunStatus, error: string | null): Effect.Effect<void, PgError> =>
    Effect.gen(function*() {
      yield* ensureSchema
      const result = yield* runQuery(
        pool,
        `finishing run ${runId}`,
        `UPDATE polymath_etl.runs SET status = $2, error = $3, finished_at = now(), updated_at = now() WHERE run_id = $1`,
        [runId, status, error]
      )
      if ((result.rowCount ?? 0) === 0) {
        return yield* pgFailure("UnknownRun", `finishing run ${runId}: no such run in the ledger`)
      }
    })

  return { begin, checkpoint, finish }
}

