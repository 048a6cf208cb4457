import { Effect } from "effect"
import type { RejectedRow } from "@polymath/engine"
import { runLabel } from "./LedgerContext.ts"
import type { LedgerContext } from "./LedgerContext.ts"
import type { PgError } from "./PgError.ts"
import { runQuery } from "./PgPool.ts"

/**
 * Records rows a run could not load. Deduplicated per (unit, key) before the upsert, which
 * may not touch one row twice; the last rejection of a key wins, and rows keep the order
 * they were given in.
 */
export const reject = (ctx: LedgerContext, runId: string, rows: ReadonlyArray<RejectedRow>): Effect.Effect<void, PgError> =>
  Effect.gen(function*() {
    if (rows.length === 0) return
    yield* ctx.ensureSchema
    yield* runQuery(
      ctx.pool,
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

/** How many rows a run rejected, and the first `limit` of them in the order they were recorded. */
export const rejected = (
  ctx: LedgerContext,
  runId: string,
  limit: number
): Effect.Effect<{ readonly count: number; readonly rows: ReadonlyArray<RejectedRow> }, PgError> =>
  Effect.gen(function*() {
    yield* ctx.ensureSchema
    const result = yield* runQuery(
      ctx.pool,
      `listing rejected rows of ${runLabel(runId)}`,
      `SELECT (SELECT count(*) FROM polymath_etl.rejected_rows WHERE run_id = $1::uuid) AS count,
              (SELECT coalesce(jsonb_agg(jsonb_build_object('step', step, 'unit', unit, 'source', source, 'key', key, 'reason', reason) ORDER BY seq), '[]')
                 FROM (SELECT * FROM polymath_etl.rejected_rows WHERE run_id = $1::uuid ORDER BY seq LIMIT $2) AS listed) AS rows`,
      [runId, Math.max(0, limit)]
    )
    const row = result.rows[0] as { count: bigint; rows: Array<RejectedRow> }
    return { count: Number(row.count), rows: row.rows }
  })
