import { Effect } from "effect"
import type { CursorWindow, RunIdentity } from "@polymath/engine"
import { runLabel } from "./LedgerContext.ts"
import type { LedgerContext } from "./LedgerContext.ts"
import { ledgerSchemaReady } from "./LedgerSchema.ts"
import type { PgError } from "./PgError.ts"
import { runQuery } from "./PgPool.ts"

// Incremental reads: a run records the window it reads per source (`run_cursors`), and
// `finish` promotes the windows of a successful run to the pipeline's `cursors`.

/** The high-water mark the last successful run with this pipeline and params left for a source, unless its query changed. */
export const lastCursor = (ctx: LedgerContext, identity: RunIdentity, source: string, queryHash: string): Effect.Effect<string | null, PgError> =>
  Effect.gen(function*() {
    // A dry run may ask before any run created the ledger; it must not create it.
    if (!(yield* ledgerSchemaReady(ctx.pool))) return null
    const result = yield* runQuery(
      ctx.pool,
      `reading the cursor of source ${JSON.stringify(source)} of pipeline ${JSON.stringify(identity.pipeline)}`,
      `SELECT value FROM polymath_etl.cursors
        WHERE pipeline = $1 AND params = $2::jsonb AND source = $3 AND query_hash = $4`,
      [identity.pipeline, JSON.stringify(identity.params), source, queryHash]
    )
    return (result.rows[0] as { value: string } | undefined)?.value ?? null
  })

/** The window a run recorded for a source, or null. */
export const cursorWindow = (ctx: LedgerContext, runId: string, source: string): Effect.Effect<CursorWindow | null, PgError> =>
  Effect.gen(function*() {
    yield* ctx.ensureSchema
    const result = yield* runQuery(
      ctx.pool,
      `reading the cursor window of source ${JSON.stringify(source)} in ${runLabel(runId)}`,
      `SELECT from_value, to_value FROM polymath_etl.run_cursors WHERE run_id = $1::uuid AND source = $2`,
      [runId, source]
    )
    const row = result.rows[0] as { from_value: string | null; to_value: string | null } | undefined
    return row === undefined ? null : { from: row.from_value, to: row.to_value }
  })

/** Records (or replaces) the window a run reads for a source. */
export const saveCursorWindow = (
  ctx: LedgerContext,
  runId: string,
  source: string,
  queryHash: string,
  window: CursorWindow
): Effect.Effect<void, PgError> =>
  Effect.gen(function*() {
    yield* ctx.ensureSchema
    yield* runQuery(
      ctx.pool,
      `recording the cursor window of source ${JSON.stringify(source)} in ${runLabel(runId)}`,
      `INSERT INTO polymath_etl.run_cursors (run_id, source, query_hash, from_value, to_value)
       VALUES ($1::uuid, $2, $3, $4, $5)
       ON CONFLICT (run_id, source) DO UPDATE SET
         query_hash = EXCLUDED.query_hash, from_value = EXCLUDED.from_value, to_value = EXCLUDED.to_value`,
      [runId, source, queryHash, window.from, window.to]
    )
  })
