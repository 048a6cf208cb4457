import { Effect } from "effect"
import type { Scope } from "effect"
import type pg from "pg"
import { Reason } from "@polymath/engine"
import type { ResumableRun, RunHandle, RunIdentity, RunStatus, StoreFingerprints } from "@polymath/engine"
import { loadCheckpoints } from "./LedgerCheckpoints.ts"
import { runLabel } from "./LedgerContext.ts"
import type { LedgerContext } from "./LedgerContext.ts"
import { acquireLock, releaseLock } from "./LedgerLock.ts"
import { pgFailure } from "./PgError.ts"
import type { PgError } from "./PgError.ts"
import { runQuery } from "./PgPool.ts"

// A run's identity, as parameters $1..$4 (see `identityParams`); jsonb equality ignores key order.
const SAME_IDENTITY = "pipeline = $1 AND spec_hash = $2 AND params = $3::jsonb AND model IS NOT DISTINCT FROM $4"

const identityParams = (identity: RunIdentity): Array<unknown> => [
  identity.pipeline,
  identity.specHash,
  JSON.stringify(identity.params),
  identity.model
]

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

/** The latest run with this identity when it did not succeed, with its checkpoints. */
export const resumable = (ctx: LedgerContext, identity: RunIdentity): Effect.Effect<ResumableRun | null, PgError> =>
  Effect.gen(function*() {
    yield* ctx.ensureSchema
    const context = `looking for an unfinished run of pipeline ${JSON.stringify(identity.pipeline)}`
    const latest = yield* latestRun(ctx.pool, context, identity)
    if (latest === undefined || latest.status === "succeeded") return null
    const checkpoints = yield* loadCheckpoints(ctx.pool, context, latest.run_id)
    return { runId: latest.run_id, checkpoints, stores: latest.stores }
  })

/**
 * Takes the pipeline lock for the scope, marks runs left running by dead processes as
 * interrupted, and resumes `options.resume` (when it is still the latest unfinished run of
 * the identity) or starts a new run.
 */
export const begin = (
  ctx: LedgerContext,
  identity: RunIdentity,
  options: { readonly resume: string | null; readonly stores: StoreFingerprints }
): Effect.Effect<RunHandle, PgError, Scope.Scope> =>
  Effect.gen(function*() {
    yield* ctx.ensureSchema
    const holder = yield* Effect.acquireRelease(acquireLock(ctx.pool, identity.pipeline), releaseLock)
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
    // Sets of runs deleted from the ledger go too (seen has no foreign key to cascade).
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
    yield* runQuery(
      client,
      context,
      `DELETE FROM polymath_etl.seen AS s WHERE NOT EXISTS (SELECT 1 FROM polymath_etl.runs AS r WHERE r.run_id = s.run_id)`,
      []
    )
    const runId = handle.runId
    ctx.locks.set(runId, holder)
    yield* Effect.addFinalizer(() => Effect.sync(() => ctx.locks.delete(runId)))
    return handle
  })

/**
 * Ends a run. One statement is one transaction: the status, the promoted cursors and the
 * cleared seen set change together or not at all.
 */
export const finish = (ctx: LedgerContext, runId: string, status: RunStatus, error: string | null): Effect.Effect<void, PgError> =>
  Effect.gen(function*() {
    yield* ctx.ensureSchema
    const result = yield* runQuery(
      ctx.pool,
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
      return yield* pgFailure(new Reason.Unavailable({ detail: "UnknownRun" }), `finishing ${runLabel(runId)}: no such run in the ledger`)
    }
  })
