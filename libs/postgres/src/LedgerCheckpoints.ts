import { Effect } from "effect"
import type pg from "pg"
import { Reason, zeroCounts } from "@polymath/engine"
import type { KeyTuple, UnitCheckpoint, UnitCounts } from "@polymath/engine"
import { runLabel } from "./LedgerContext.ts"
import type { LedgerContext } from "./LedgerContext.ts"
import { pgFailure } from "./PgError.ts"
import type { PgError } from "./PgError.ts"
import { runQuery } from "./PgPool.ts"

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
  if (row.counts === null) {
    return { ...zeroCounts, read: Number(row.rows_read), updated: Number(row.rows_written), unchanged: Number(row.rows_skipped), retried: Number(row.retried) }
  }
  const out: Record<keyof UnitCounts, number> = { ...zeroCounts }
  for (const name of Object.keys(zeroCounts) as Array<keyof UnitCounts>) {
    const v = row.counts[name]
    if (typeof v === "number") out[name] = v
  }
  return out
}

const toCheckpoint = (row: UnitRow): UnitCheckpoint => ({ unit: row.unit, lastKey: row.last_key, done: row.done, counts: toCounts(row) })

/** Every unit checkpoint of a run, by unit. */
export const loadCheckpoints = (
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

/** Records a unit's progress; refused once the run's pipeline lock is lost. */
export const checkpoint = (ctx: LedgerContext, runId: string, cp: UnitCheckpoint): Effect.Effect<void, PgError> =>
  Effect.gen(function*() {
    if (ctx.locks.get(runId)?.lost === true) {
      return yield* pgFailure(
        new Reason.Unavailable({ detail: "LockLost" }),
        `${runLabel(runId)}: the connection holding the pipeline lock was lost, so another run may have started; not recording unit ${JSON.stringify(cp.unit)}`
      )
    }
    yield* ctx.ensureSchema
    yield* runQuery(
      ctx.pool,
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
