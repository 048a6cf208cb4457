import { Effect } from "effect"
import type pg from "pg"
import type { DuplicateKey, KeysetSource, NullKeyRows, Row, Value } from "@polymath/engine"
import { quoteIdent } from "./Identifier.ts"
import type { PgError } from "./PgError.ts"
import { runSingleStatement } from "./PgPool.ts"
import { planSource, sourceLabel } from "./Source.ts"
import { checkpointValue, hiddenKeyColumn } from "./SourceKeys.ts"
import { asSubquery } from "./Statement.ts"

// What the engine asks about a source before and beside reading it: its size, its cursor
// high-water mark, and the rows keyset paging cannot read (NULL keys) or would mis-read
// (duplicate keys).

/** Number of rows the source's pages yield. */
export const countSource = (pool: pg.Pool, source: KeysetSource): Effect.Effect<number, PgError> =>
  Effect.gen(function*() {
    const plan = yield* planSource(pool, source)
    const r = yield* runSingleStatement(pool, `counting ${sourceLabel(source)}`, `SELECT count(*) AS n FROM ${plan.from}`, plan.params)
    return Number((r.rows[0] as { n: bigint }).n)
  })

/** The source's greatest cursor value as the server renders it, null when it has no rows (or no cursor). */
export const cursorMax = (pool: pg.Pool, source: KeysetSource): Effect.Effect<string | null, PgError> =>
  Effect.gen(function*() {
    const plan = yield* planSource(pool, source)
    if (plan.cursorCol === null) return null
    const r = yield* runSingleStatement(
      pool,
      `reading the cursor of ${sourceLabel(source)}`,
      `SELECT max(${plan.cursorCol})::text AS v FROM ${plan.from}`,
      plan.params
    )
    return (r.rows[0] as { v: string | null } | undefined)?.v ?? null
  })

/**
 * The rows pages leave out: a NULL in a key or cursor column. Only rows at or past the
 * cursor's lower bound count (a NULL cursor counts always: it is never read), so an
 * incremental run reports what it skipped this time, not every earlier run's too.
 */
export const nullKeys = (pool: pg.Pool, source: KeysetSource, limit: number): Effect.Effect<NullKeyRows, PgError> =>
  Effect.gen(function*() {
    const plan = yield* planSource(pool, source)
    const context = `looking for NULL keys in ${sourceLabel(source)}`
    const params: Array<Value> = [...source.statement.params]
    const anyNull = [...plan.cols, ...(plan.cursorCol === null ? [] : [plan.cursorCol])].map((c) => `${c} IS NULL`).join(" OR ")
    let where = `(${anyNull})`
    const lowerBound = source.cursor?.from ?? null
    if (plan.cursorCol !== null && lowerBound !== null) {
      params.push(lowerBound)
      where += ` AND (${plan.cursorCol} IS NULL OR ${plan.cursorCol} >= $${params.length})`
    }
    const from = `${asSubquery(source.statement)} WHERE ${where}`
    const counted = yield* runSingleStatement(pool, context, `SELECT count(*) AS n FROM ${from}`, params)
    const count = Number((counted.rows[0] as { n: bigint }).n)
    if (count === 0 || limit <= 0) return { count, rows: [] }
    const listed = yield* runSingleStatement(
      pool,
      context,
      `SELECT src.* FROM ${from} ORDER BY ${plan.cols.join(", ")} LIMIT $${params.length + 1}`,
      [...params, limit]
    )
    return { count, rows: listed.rows as ReadonlyArray<Row> }
  })

/** Up to `limit` key values that occur more than once among the rows pages yield, in key order. */
export const duplicateKeys = (pool: pg.Pool, source: KeysetSource, limit: number): Effect.Effect<ReadonlyArray<DuplicateKey>, PgError> =>
  Effect.gen(function*() {
    if (limit <= 0) return []
    const plan = yield* planSource(pool, source)
    const keys = plan.cols.map((c, i) => `${plan.rendered[i] ?? c} AS ${quoteIdent(hiddenKeyColumn(i))}`)
    const r = yield* runSingleStatement(
      pool,
      `looking for duplicate keys in ${sourceLabel(source)}`,
      `SELECT ${keys.join(", ")}, count(*) AS n FROM ${plan.from}
        GROUP BY ${plan.cols.join(", ")} HAVING count(*) > 1
        ORDER BY ${plan.cols.join(", ")} LIMIT $${plan.params.length + 1}`,
      [...plan.params, limit]
    )
    return yield* Effect.forEach(r.rows as ReadonlyArray<Record<string, Value>>, (row) =>
      Effect.map(
        Effect.forEach(source.key, (k, i) => checkpointValue(source, k, row[hiddenKeyColumn(i)] as Value)),
        (key) => ({ key, count: Number(row["n"] as bigint) })
      ))
  })
