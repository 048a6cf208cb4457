import { Effect } from "effect"
import type pg from "pg"
import type { KeysetSource, KeyTuple, Value } from "@polymath/engine"
import type { PgError } from "./PgError.ts"
import { runSingleStatement } from "./PgPool.ts"
import { planSource, sourceLabel } from "./Source.ts"
import { keysOf, selectWithKeys } from "./SourceKeys.ts"

/**
 * The keys that cut a source into `parts` ranges of nearly equal row counts: every
 * ceil(n / parts)-th key in key order, from one pass in one statement. Exact quantiles
 * rather than a sample: the pass costs what one read of the source costs, and ranges of
 * equal size are what lets workers finish together.
 */
export const splitPoints = (pool: pg.Pool, source: KeysetSource, parts: number): Effect.Effect<ReadonlyArray<KeyTuple>, PgError> =>
  Effect.gen(function*() {
    if (!Number.isSafeInteger(parts) || parts <= 1) return []
    const plan = yield* planSource(pool, source)
    const order = plan.cols.join(", ")
    const every = `$${plan.params.length + 1}`
    const result = yield* runSingleStatement(
      pool,
      `splitting ${sourceLabel(source)} into ${parts} ranges`,
      `SELECT ${selectWithKeys(plan)} FROM (
         SELECT src.*, row_number() OVER (ORDER BY ${order}) AS __polymath_rn, count(*) OVER () AS __polymath_n FROM ${plan.from}
       ) AS src
       WHERE src.__polymath_rn % greatest(1, ceil(src.__polymath_n / ${every}::numeric))::bigint = 0 AND src.__polymath_rn < src.__polymath_n
       ORDER BY ${order}`,
      [...plan.params, parts]
    )
    return yield* keysOf(plan, result.rows as ReadonlyArray<Record<string, Value>>)
  })
