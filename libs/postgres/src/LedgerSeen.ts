import { Effect } from "effect"
import { runLabel } from "./LedgerContext.ts"
import type { LedgerContext } from "./LedgerContext.ts"
import type { PgError } from "./PgError.ts"
import { bytea, runQuery } from "./PgPool.ts"

// The identity hashes a mirroring unit has read in a run, kept across a resume so that only
// what the whole run never saw is mirrored away; `begin` drops the sets of runs that can no
// longer be resumed.

/** Records identity hashes a unit has read in this run (idempotent). */
export const markSeen = (ctx: LedgerContext, runId: string, unit: string, ids: ReadonlyArray<Uint8Array>): Effect.Effect<void, PgError> =>
  Effect.gen(function*() {
    if (ids.length === 0) return
    yield* ctx.ensureSchema
    yield* runQuery(
      ctx.pool,
      `recording identities seen by unit ${JSON.stringify(unit)} of ${runLabel(runId)}`,
      `INSERT INTO polymath_etl.seen (run_id, unit, id) SELECT $1::uuid, $2::text, unnest($3::bytea[]) ON CONFLICT DO NOTHING`,
      [runId, unit, ids.map(bytea)]
    )
  })

/** The positions in `ids` of the identities none of `units` has recorded in this run, in order. */
export const unseen = (
  ctx: LedgerContext,
  runId: string,
  units: ReadonlyArray<string>,
  ids: ReadonlyArray<Uint8Array>
): Effect.Effect<ReadonlyArray<number>, PgError> =>
  Effect.gen(function*() {
    if (ids.length === 0) return []
    if (units.length === 0) return ids.map((_, i) => i)
    yield* ctx.ensureSchema
    const result = yield* runQuery(
      ctx.pool,
      `reading identities seen by ${units.length === 1 ? "unit" : "units"} ${units.map((u) => JSON.stringify(u)).join(", ")} of ${runLabel(runId)}`,
      `SELECT i.ord - 1 AS i FROM unnest($3::bytea[]) WITH ORDINALITY AS i(id, ord)
        WHERE NOT EXISTS (SELECT 1 FROM polymath_etl.seen AS s WHERE s.run_id = $1::uuid AND s.unit = ANY($2::text[]) AND s.id = i.id)
        ORDER BY i.ord`,
      [runId, units, ids.map(bytea)]
    )
    return (result.rows as Array<{ i: bigint }>).map((r) => Number(r.i))
  })
