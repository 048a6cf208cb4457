import { Effect } from "effect"
import type pg from "pg"
import { Reason } from "@polymath/engine"
import { pgFailure, toPgError } from "./PgError.ts"
import type { PgError } from "./PgError.ts"
import { runQuery } from "./PgPool.ts"

// The two-key advisory lock form keeps our pipeline locks in their own key space, so a
// `hashtext(pipeline)` lock taken by some other application cannot block us.
const LOCK_ARGS = "hashtext('polymath_etl.run'), hashtext($1)"

/** The pipeline lock's connection, held for the lifetime of the run's scope. */
export interface LockHolder {
  readonly client: pg.PoolClient
  readonly pipeline: string
  /** Set when the connection dies: the server has then released the lock. */
  lost: boolean
  readonly onError: () => void
}

const runInProgress = (pipeline: string): PgError =>
  pgFailure(new Reason.Unavailable({ detail: "RunInProgress" }), `another run of pipeline ${JSON.stringify(pipeline)} is in progress`)

/**
 * Takes the pipeline's session-level advisory lock on a dedicated connection, so the lock
 * also disappears when the process is killed and its connection drops. Fails with
 * `Unavailable(RunInProgress)` when another session holds it.
 */
export const acquireLock = (pool: pg.Pool, pipeline: string): Effect.Effect<LockHolder, PgError> =>
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

/** Releases the lock and destroys its connection; never fails. */
export const releaseLock = (holder: LockHolder): Effect.Effect<void> =>
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
