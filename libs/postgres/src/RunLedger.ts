import { Effect } from "effect"
import type { Scope } from "effect"
import type pg from "pg"
import type {
  CursorWindow,
  KeyTuple,
  RejectedRow,
  ResumableRun,
  RunHandle,
  RunIdentity,
  RunLedger,
  RunStatus,
  StoreFingerprints,
  UnitCheckpoint,
  UnitCounts
} from "@polymath/engine"
import { ensureLedgerSchema, ledgerSchemaReady } from "./LedgerSchema.ts"
import { pgFailure, toPgError } from "./PgError.ts"
import type { PgError } from "./PgError.ts"
import { bytea, runQuery } from "./PgPool.ts"

// The two-key advisory lock form keeps our pipeline locks in their own key space, so a
// `hashtext(pipeline)` lock taken by some other application cannot block us.
const LOCK_ARGS = "hashtext('polymath_etl.run'), hashtext($1)"

// A run's identity, as parameters $1..$4 (see `identityParams`); jsonb equality ignores key order.
const SAME_IDENTITY = "pipeline = $1 AND spec_hash = $2 AND params = $3::jsonb AND model IS NOT DISTINCT FROM $4"

const identityParams = (identity: RunIdentity): Array<unknown> => [
  identity.pipeline,
  identity.specHash,
  JSON.stringify(identity.params),
  identity.model
]

// Spelled out here rather than imported, so this lib needs nothing from the engine at run time.
const COUNT_NAMES = ["read", "created", "updated", "unchanged", "rejected", "combined", "deleted", "retried"] as const

interface UnitRow {
  readonly unit: string
  readonly last_key: KeyTuple | null
  readonly done: boolean
  readonly counts: Readonly<Record<string, unknown>> | null
  readonly rows_read: bigint
  readonly rows_written: bigint
  readonly rows_skipped: bigint
  readonly retried: bigint
}

// Units checkpointed before `counts` existed carry only the old columns: what they wrote
// counts as updated, what they skipped as unchanged.
const toCounts = (row: UnitRow): UnitCounts => {
  const out: Record<(typeof COUNT_NAMES)[number], number> = {
    read: 0,
    created: 0,
    updated: 0,
    unchanged: 0,
    rejected: 0,
    combined: 0,
    deleted: 0,
    retried: 0
  }
  if (row.counts === null) {
    return { ...out, read: Number(row.rows_read), updated: Number(row.rows_written), unchanged: Number(row.rows_skipped), retried: Number(row.retried) }
  }
  for (const name of COUNT_NAMES) {
    const v = row.counts[name]
    if (typeof v === "number") out[name] = v
  }
  return out
}

const toCheckpoint = (row: UnitRow): UnitCheckpoint => ({ unit: row.unit, lastKey: row.last_key, done: row.done, counts: toCounts(row) })

const loadCheckpoints = (
  client: pg.Pool | pg.PoolClient,
  context: string,
  runId: string
): Effect.Effect<ReadonlyMap<string, UnitCheckpoint>, PgError> =>
  Effect.map(
    runQuery(
      client,
      context,
      `SELECT unit, last_key, done, counts, rows_read, rows_written, rows_skipped, retried
         FROM polymath_etl.run_units WHERE run_id = $1 ORDER BY unit`,
      [runId]
    ),
    (r) => new Map((r.rows as Array<UnitRow>).map((u) => [u.unit, toCheckpoint(u)] as const))
  )

interface LatestRun {
  readonly run_id: string
  readonly status: string
  readonly stores: StoreFingerprints | null
}

// Only the latest run with an identity is a candidate: once a newer run has started (or
// succeeded), an older unfinished one must not be continued.
const latestRun = (client: pg.Pool | pg.PoolClient, context: string, identity: RunIdentity): Effect.Effect<LatestRun | undefined, PgError> =>
  Effect.map(
    runQuery(
      client,
      context,
      `SELECT run_id::text AS run_id, status, stores FROM polymath_etl.runs
        WHERE ${SAME_IDENTITY} ORDER BY started_at DESC LIMIT 1`,
      identityParams(identity)
    ),
    (r) => r.rows[0] as LatestRun | undefined
  )

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

const runLabel = (runId: string): string => `run ${runId}`

/**
 * A RunLedger kept in the `polymath_etl` schema of the given pool's database. Tables are
 * created (or upgraded) on first use. The pipeline lock is a session-level advisory lock
 * on a dedicated connection, so it also disappears when the process is killed and its
 * connection drops.
 */
export const makePgRunLedger = (pool: pg.Pool): RunLedger => {
  // The lock of each run begun here; if its connection dies, writing more checkpoints
  // could interleave with a new run that has since taken the lock.
  const holders = new Map<string, LockHolder>()
  const ensureSchema = ensureLedgerSchema(pool)

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

  const resumable = (identity: RunIdentity): Effect.Effect<ResumableRun | null, PgError> =>
    Effect.gen(function*() {
      yield* ensureSchema
      const context = `looking for an unfinished run of pipeline ${JSON.stringify(identity.pipeline)}`
      const latest = yield* latestRun(pool, context, identity)
      if (latest === undefined || latest.status === "succeeded") return null
      const checkpoints = yield* loadCheckpoints(pool, context, latest.run_id)
      return { runId: latest.run_id, checkpoints, stores: latest.stores }
    })

  const begin = (
    identity: RunIdentity,
    options: { readonly resume: string | null; readonly stores: StoreFingerprints }
  ): Effect.Effect<RunHandle, PgError, Scope.Scope> =>
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
      const stores = JSON.stringify(options.stores)
      let handle: RunHandle | undefined
      if (options.resume !== null) {
        // Checked again under the lock: another process may have run since `resumable` looked.
        const latest = yield* latestRun(client, context, identity)
        if (latest !== undefined && latest.run_id === options.resume && latest.status !== "succeeded") {
          yield* runQuery(
            client,
            context,
            `UPDATE polymath_etl.runs
                SET status = 'running', error = NULL, finished_at = NULL, updated_at = now(), stores = $2::jsonb
              WHERE run_id = $1`,
            [latest.run_id, stores]
          )
          const checkpoints = yield* loadCheckpoints(client, context, latest.run_id)
          handle = { runId: latest.run_id, resumed: true, checkpoints }
        }
      }
      if (handle === undefined) {
        const inserted = yield* runQuery(
          client,
          context,
          `INSERT INTO polymath_etl.runs (pipeline, spec_hash, params, model, status, stores)
           VALUES ($1, $2, $3::jsonb, $4, 'running', $5::jsonb) RETURNING run_id::text AS run_id`,
          [...identityParams(identity), stores]
        )
        handle = { runId: (inserted.rows[0] as { run_id: string }).run_id, resumed: false, checkpoints: new Map() }
      }
      // Seen identities only matter to the run that recorded them, and only while it can
      // still be resumed: drop those of runs that succeeded or were superseded by a newer
      // run of their identity. An unfinished run with other params stays resumable, so
      // its set is kept (resuming it with half its set would mirror away what it read).
      yield* runQuery(
        client,
        context,
        `DELETE FROM polymath_etl.seen AS s USING polymath_etl.runs AS r
          WHERE s.run_id = r.run_id AND r.pipeline = $1 AND r.run_id <> $2::uuid
            AND (r.status = 'succeeded' OR EXISTS (
                  SELECT 1 FROM polymath_etl.runs AS n
                   WHERE n.pipeline = r.pipeline AND n.spec_hash = r.spec_hash AND n.params = r.params
                     AND n.model IS NOT DISTINCT FROM r.model AND n.started_at > r.started_at))`,
        [identity.pipeline, handle.runId]
      )
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
          `${runLabel(runId)}: the connection holding the pipeline lock was lost, so another run may have started; not recording unit ${JSON.stringify(cp.unit)}`
        )
      }
      yield* ensureSchema
      yield* runQuery(
        pool,
        `checkpointing unit ${JSON.stringify(cp.unit)} of ${runLabel(runId)}`,
        `WITH up AS (
           INSERT INTO polymath_etl.run_units (run_id, unit, last_key, done, counts, updated_at)
           VALUES ($1, $2, $3::jsonb, $4, $5::jsonb, now())
           ON CONFLICT (run_id, unit) DO UPDATE SET
             last_key = EXCLUDED.last_key, done = EXCLUDED.done, counts = EXCLUDED.counts, updated_at = now()
           RETURNING run_id)
         UPDATE polymath_etl.runs SET updated_at = now() WHERE run_id IN (SELECT run_id FROM up)`,
        [runId, cp.unit, cp.lastKey === null ? null : JSON.stringify(cp.lastKey), cp.done, JSON.stringify(cp.counts)]
      )
    })

  // One statement is one transaction: the status, the promoted cursors and the cleared
  // seen set change together or not at all.
  const finish = (runId: string, status: RunStatus, error: string | null): Effect.Effect<void, PgError> =>
    Effect.gen(function*() {
      yield* ensureSchema
      const result = yield* runQuery(
        pool,
        `finishing ${runLabel(runId)}`,
        `WITH run AS (
           UPDATE polymath_etl.runs SET status = $2::text, error = $3::text, finished_at = now(), updated_at = now()
            WHERE run_id = $1::uuid
           RETURNING run_id, pipeline, params
         ), promoted AS (
           INSERT INTO polymath_etl.cursors (pipeline, params, source, query_hash, value, run_id, updated_at)
           SELECT run.pipeline, run.params, c.source, c.query_hash, c.to_value, run.run_id, now()
             FROM run JOIN polymath_etl.run_cursors AS c ON c.run_id = run.run_id
            WHERE $2::text = 'succeeded' AND c.to_value IS NOT NULL
           ON CONFLICT (pipeline, params, source) DO UPDATE SET
             query_hash = EXCLUDED.query_hash, value = EXCLUDED.value, run_id = EXCLUDED.run_id, updated_at = now()
         ), cleared AS (
           DELETE FROM polymath_etl.seen AS s USING run WHERE s.run_id = run.run_id AND $2::text = 'succeeded'
         )
         SELECT count(*) AS n FROM run`,
        [runId, status, error]
      )
      if (Number((result.rows[0] as { n: bigint }).n) === 0) {
        return yield* pgFailure("UnknownRun", `finishing ${runLabel(runId)}: no such run in the ledger`)
      }
    })

  // Deduplicated per (unit, key) before the upsert, which may not touch one row twice;
  // the last rejection of a key wins, and rows keep the order they were given in.
  const reject = (runId: string, rows: ReadonlyArray<RejectedRow>): Effect.Effect<void, PgError> =>
    Effect.gen(function*() {
      if (rows.length === 0) return
      yield* ensureSchema
      yield* runQuery(
        pool,
        `recording rejected rows of ${runLabel(runId)}`,
        `INSERT INTO polymath_etl.rejected_rows (run_id, step, unit, source, key, reason)
         SELECT $1::uuid, d.step, d.unit, d.source, d.key, d.reason
           FROM (SELECT DISTINCT ON (r.unit, r.key) r.*
                   FROM ROWS FROM (jsonb_to_recordset($2::jsonb) AS (step text, unit text, source text, key jsonb, reason text))
                        WITH ORDINALITY AS r(step, unit, source, key, reason, ord)
                  ORDER BY r.unit, r.key, r.ord DESC) AS d
          ORDER BY d.ord
         ON CONFLICT (run_id, unit, key) DO UPDATE SET step = EXCLUDED.step, source = EXCLUDED.source, reason = EXCLUDED.reason`,
        [runId, JSON.stringify(rows.map((r) => ({ step: r.step, unit: r.unit, source: r.source, key: r.key, reason: r.reason })))]
      )
    })

  const rejected = (
    runId: string,
    limit: number
  ): Effect.Effect<{ readonly count: number; readonly rows: ReadonlyArray<RejectedRow> }, PgError> =>
    Effect.gen(function*() {
      yield* ensureSchema
      const result = yield* runQuery(
        pool,
        `listing rejected rows of ${runLabel(runId)}`,
        `SELECT (SELECT count(*) FROM polymath_etl.rejected_rows WHERE run_id = $1::uuid) AS count,
                (SELECT coalesce(jsonb_agg(jsonb_build_object('step', step, 'unit', unit, 'source', source, 'key', key, 'reason', reason) ORDER BY seq), '[]')
                   FROM (SELECT * FROM polymath_etl.rejected_rows WHERE run_id = $1::uuid ORDER BY seq LIMIT $2) AS listed) AS rows`,
        [runId, Math.max(0, limit)]
      )
      const row = result.rows[0] as { count: bigint; rows: Array<RejectedRow> }
      return { count: Number(row.count), rows: row.rows }
    })

  const markSeen = (runId: string, unit: string, ids: ReadonlyArray<Uint8Array>): Effect.Effect<void, PgError> =>
    Effect.gen(function*() {
      if (ids.length === 0) return
      yield* ensureSchema
      yield* runQuery(
        pool,
        `recording identities seen by unit ${JSON.stringify(unit)} of ${runLabel(runId)}`,
        `INSERT INTO polymath_etl.seen (run_id, unit, id) SELECT $1::uuid, $2::text, unnest($3::bytea[]) ON CONFLICT DO NOTHING`,
        [runId, unit, ids.map(bytea)]
      )
    })

  const unseen = (runId: string, unit: string, ids: ReadonlyArray<Uint8Array>): Effect.Effect<ReadonlyArray<number>, PgError> =>
    Effect.gen(function*() {
      if (ids.length === 0) return []
      yield* ensureSchema
      const result = yield* runQuery(
        pool,
        `reading identities seen by unit ${JSON.stringify(unit)} of ${runLabel(runId)}`,
        `SELECT i.ord - 1 AS i FROM unnest($3::bytea[]) WITH ORDINALITY AS i(id, ord)
          WHERE NOT EXISTS (SELECT 1 FROM polymath_etl.seen AS s WHERE s.run_id = $1::uuid AND s.unit = $2::text AND s.id = i.id)
          ORDER BY i.ord`,
        [runId, unit, ids.map(bytea)]
      )
      return (result.rows as Array<{ i: bigint }>).map((r) => Number(r.i))
    })

  const lastCursor = (identity: RunIdentity, source: string, queryHash: string): Effect.Effect<string | null, PgError> =>
    Effect.gen(function*() {
      // A dry run may ask before any run created the ledger; it must not create it.
      if (!(yield* ledgerSchemaReady(pool))) return null
      const result = yield* runQuery(
        pool,
        `reading the cursor of source ${JSON.stringify(source)} of pipeline ${JSON.stringify(identity.pipeline)}`,
        `SELECT value FROM polymath_etl.cursors
          WHERE pipeline = $1 AND params = $2::jsonb AND source = $3 AND query_hash = $4`,
        [identity.pipeline, JSON.stringify(identity.params), source, queryHash]
      )
      return (result.rows[0] as { value: string } | undefined)?.value ?? null
    })

  const cursorWindow = (runId: string, source: string): Effect.Effect<CursorWindow | null, PgError> =>
    Effect.gen(function*() {
      yield* ensureSchema
      const result = yield* runQuery(
        pool,
        `reading the cursor window of source ${JSON.stringify(source)} in ${runLabel(runId)}`,
        `SELECT from_value, to_value FROM polymath_etl.run_cursors WHERE run_id = $1::uuid AND source = $2`,
        [runId, source]
      )
      const row = result.rows[0] as { from_value: string | null; to_value: string | null } | undefined
      return row === undefined ? null : { from: row.from_value, to: row.to_value }
    })

  const saveCursorWindow = (runId: string, source: string, queryHash: string, window: CursorWindow): Effect.Effect<void, PgError> =>
    Effect.gen(function*() {
      yield* ensureSchema
      yield* runQuery(
        pool,
        `recording the cursor window of source ${JSON.stringify(source)} in ${runLabel(runId)}`,
        `INSERT INTO polymath_etl.run_cursors (run_id, source, query_hash, from_value, to_value)
         VALUES ($1::uuid, $2, $3, $4, $5)
         ON CONFLICT (run_id, source) DO UPDATE SET
           query_hash = EXCLUDED.query_hash, from_value = EXCLUDED.from_value, to_value = EXCLUDED.to_value`,
        [runId, source, queryHash, window.from, window.to]
      )
    })

  return { resumable, begin, checkpoint, finish, reject, rejected, markSeen, unseen, lastCursor, cursorWindow, saveCursorWindow }
}
