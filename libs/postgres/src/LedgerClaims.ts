import { Effect } from "effect"
import { runLabel } from "./LedgerContext.ts"
import type { LedgerContext } from "./LedgerContext.ts"
import type { PgError } from "./PgError.ts"
import { runQuery } from "./PgPool.ts"

// A distributed run hands a unit's key ranges out to whichever worker asks first, rather than
// placing them by hash: a worker with free capacity takes the next range, so the work splits by
// speed. A claim is named by its claimant's own sequence, so asking again under the same name (the
// claimant died after the claim committed and replays) gets the same range, never a second one.

/**
 * Claims the lowest of the ranges 0..count-1 of `scope` that nobody has claimed, under the name
 * `claim`; the range already claimed under that name, if any; null when every range is taken.
 */
export const claimRange = (
  ctx: LedgerContext,
  runId: string,
  scope: string,
  count: number,
  claim: string
): Effect.Effect<number | null, PgError> =>
  Effect.gen(function*() {
    yield* ctx.ensureSchema
    const context = `claiming a range of ${JSON.stringify(scope)} for ${runLabel(runId)}`
    // Two claimants may pick the same free range at once; the loser's insert does nothing and it
    // looks again (each pass either claims or sees one more range taken).
    for (let attempt = 0; attempt <= count; attempt++) {
      const result = yield* runQuery(
        ctx.pool,
        context,
        `WITH mine AS (
           SELECT range_index FROM polymath_etl.range_claims WHERE scope = $2::text AND claim = $4::text
         ), free AS (
           SELECT g.i FROM generate_series(0, $3::int - 1) AS g(i)
            WHERE NOT EXISTS (SELECT 1 FROM mine)
              AND NOT EXISTS (SELECT 1 FROM polymath_etl.range_claims c WHERE c.scope = $2::text AND c.range_index = g.i)
            ORDER BY g.i LIMIT 1
         ), claimed AS (
           INSERT INTO polymath_etl.range_claims (run_id, scope, range_index, claim)
           SELECT $1::uuid, $2::text, i, $4::text FROM free
           ON CONFLICT DO NOTHING
           RETURNING range_index
         )
         SELECT range_index, 'mine' AS how FROM mine
         UNION ALL SELECT range_index, 'claimed' FROM claimed
         UNION ALL SELECT NULL, 'none' WHERE NOT EXISTS (SELECT 1 FROM mine) AND NOT EXISTS (SELECT 1 FROM free)`,
        [runId, scope, count, claim]
      )
      const row = result.rows[0] as { range_index: number | bigint | null; how: string } | undefined
      if (row !== undefined) return row.range_index === null ? null : Number(row.range_index)
    }
    return null
  })
