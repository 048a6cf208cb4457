import { Effect } from "effect"
import type pg from "pg"
import { foldedRowsColumn } from "@polymath/engine"
import type { DuplicateKey, KeysetSource, KeyTuple, NullKeyRows, Row, SourceDescription, SourceFold, SqlStatement, Value } from "@polymath/engine"
import { quoteIdent } from "./Identifier.ts"
import { pgFailure } from "./PgError.ts"
import type { PgError } from "./PgError.ts"
import { runSingleStatement } from "./PgPool.ts"
import { asSubquery } from "./Statement.ts"

type KeyValue = KeyTuple[number]

// Date/time types lose precision (µs → ms) or shift with the local time zone when parsed
// into a JS Date, so their checkpoint value is rendered by the server instead. Rendering
// as ISO-8601 keeps the checkpoint readable and exactly comparable when passed back.
const TIME_KEY_RENDER: ReadonlyMap<number, (col: string) => string> = new Map([
  [1082, (c: string) => `to_char(${c}, 'YYYY-MM-DD')`], // date
  [1083, (c: string) => `${c}::text`], // time
  [1266, (c: string) => `${c}::text`], // timetz
  [1114, (c: string) => `to_char(${c}, 'YYYY-MM-DD"T"HH24:MI:SS.US')`], // timestamp
  [1184, (c: string) => `to_char(${c} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`] // timestamptz
])

/** The name of the hidden column that carries key position `i` as its checkpoint text. */
export const hiddenKeyColumn = (i: number): string => `__polymath_key_${i}`

/** How one source is read: the SQL pieces every query over it shares. */
export interface SourcePlan {
  readonly source: KeysetSource
  /** `(SELECT * FROM (<statement>) AS src WHERE <keys and cursor not null> [AND cursor >= $n]) AS src`: exactly the rows pages yield. */
  readonly from: string
  /** The statement's own parameters, then the cursor's lower bound when there is one. */
  readonly params: ReadonlyArray<Value>
  /** Key columns as `src."k"`, in key order. */
  readonly cols: ReadonlyArray<string>
  /** The cursor column as `src."c"`, or null. */
  readonly cursorCol: string | null
  /** For each key position, the server-side rendering of a date/time key, or null when the JS value is exact. */
  readonly rendered: ReadonlyArray<string | null>
}

/** `source "name"`, for messages. */
export const sourceLabel = (source: KeysetSource): string => `source ${JSON.stringify(source.name)}`

/** Column names and type oids of a statement's result, from a zero-row execution. */
const probe = (pool: pg.Pool, context: string, statement: SqlStatement): Effect.Effect<ReadonlyArray<pg.FieldDef>, PgError> =>
  Effect.map(
    runSingleStatement(pool, context, `SELECT * FROM ${asSubquery(statement)} LIMIT 0`, statement.params),
    (r) => r.fields
  )

/** Runs the statement without returning rows and reports its column names. */
export const describeStatement = (pool: pg.Pool, label: string, statement: SqlStatement): Effect.Effect<SourceDescription, PgError> =>
  Effect.map(probe(pool, `describing a query on ${label}`, statement), (fields) => ({ columns: fields.map((f) => f.name) }))

const validateSource = (source: KeysetSource): Effect.Effect<void, PgError> => {
  if (source.fold !== null && source.fold.identity.join("\u0000") !== source.key.join("\u0000")) {
    return Effect.fail(pgFailure("InvalidSource", `${sourceLabel(source)}: a folded source is keyed by its identity`))
  }
  if (source.key.length === 0) return Effect.fail(pgFailure("InvalidSource", `${sourceLabel(source)} has no key columns`))
  if (!Number.isSafeInteger(source.pageSize) || source.pageSize <= 0) {
    return Effect.fail(pgFailure("InvalidSource", `${sourceLabel(source)}: page size must be a positive integer, got ${source.pageSize}`))
  }
  return Effect.void
}

/**
 * Builds the source's plan. One `LIMIT 0` probe tells us the result's columns and types,
 * so missing key or cursor columns are reported by name and date/time keys get their
 * exact server rendering.
 */
export const planSource = (pool: pg.Pool, source: KeysetSource): Effect.Effect<SourcePlan, PgError> =>
  Effect.gen(function*() {
    yield* validateSource(source)
    const fields = yield* probe(pool, `reading ${sourceLabel(source)}`, source.statement)
    const types = new Map(fields.map((f) => [f.name, f.dataTypeID]))
    const columns = [...types.keys()].join(", ")
    const missingKeys = source.key.filter((k) => !types.has(k))
    if (missingKeys.length > 0) {
      return yield* pgFailure(
        "UndefinedColumn",
        `${sourceLabel(source)} has no key column ${missingKeys.map((k) => JSON.stringify(k)).join(", ")} (columns: ${columns})`,
        "42703"
      )
    }
    const missingFolded = (source.fold?.columns ?? []).map((c) => c.column).concat(source.fold?.sourceKey ?? []).filter((c) => !types.has(c))
    if (missingFolded.length > 0) {
      return yield* pgFailure(
        "UndefinedColumn",
        `${sourceLabel(source)} has no column ${[...new Set(missingFolded)].map((k) => JSON.stringify(k)).join(", ")} (columns: ${columns})`,
        "42703"
      )
    }
    if (source.cursor !== null && !types.has(source.cursor.column)) {
      return yield* pgFailure(
        "UndefinedColumn",
        `${sourceLabel(source)} has no cursor column ${JSON.stringify(source.cursor.column)} (columns: ${columns})`,
        "42703"
      )
    }
    const cols = source.key.map((k) => `src.${quoteIdent(k)}`)
    const cursorCol = source.cursor === null ? null : `src.${quoteIdent(source.cursor.column)}`
    const params: Array<Value> = [...source.statement.params]
    const conditions = [...cols, ...(cursorCol === null ? [] : [cursorCol])].map((c) => `${c} IS NOT NULL`)
    const lowerBound = source.cursor?.from ?? null
    if (cursorCol !== null && lowerBound !== null) {
      // An untyped parameter takes the column's type, so the server parses its own `max(col)::text` back exactly.
      params.push(lowerBound)
      conditions.push(`${cursorCol} >= $${params.length}`)
    }
    const where = `${asSubquery(source.statement)} WHERE ${conditions.join(" AND ")}`
    return {
      source,
      from: source.fold === null ? `(SELECT * FROM ${where}) AS src` : `(${foldedSelect(source.fold, cols, where)}) AS src`,
      params,
      cols,
      cursorCol,
      rendered: source.key.map((k, i) => TIME_KEY_RENDER.get(types.get(k) ?? 0)?.(cols[i] as string) ?? null)
    }
  })

/**
 * One row per identity: each carried column folded by its rule over the identity's rows
 * (first / last in source key order, greatest / smallest value ignoring NULLs), plus
 * how many source rows it stands for. Window functions rather than aggregates, so any
 * column type folds (arrays, json, uuid), not only those with max/min.
 */
const foldedSelect = (fold: SourceFold, ids: ReadonlyArray<string>, where: string): string => {
  const partition = `PARTITION BY ${ids.join(", ")}`
  const keyOrder = (dir: "ASC" | "DESC") => fold.sourceKey.map((k) => `src.${quoteIdent(k)} ${dir}`).join(", ")
  const carried = fold.columns.map(({ column, as, rule }) => {
    const col = `src.${quoteIdent(column)}`
    const order = rule === "first" ? keyOrder("ASC") : rule === "last" ? keyOrder("DESC") : `${col} ${rule === "max" ? "DESC" : "ASC"} NULLS LAST, ${keyOrder("ASC")}`
    return `first_value(${col}) OVER (${partition} ORDER BY ${order}) AS ${quoteIdent(as)}`
  })
  return `SELECT DISTINCT ON (${ids.join(", ")}) ${[...ids, ...carried, `count(*) OVER (${partition}) AS ${quoteIdent(foldedRowsColumn)}`].join(", ")}
    FROM ${where} ORDER BY ${ids.join(", ")}`
}

/** `src.*` plus one hidden column per date/time key, which `keyOf` reads and `stripHidden` removes. */
export const selectWithKeys = (plan: SourcePlan): string =>
  ["src.*", ...plan.rendered.flatMap((r, i) => (r === null ? [] : [`${r} AS ${quoteIdent(hiddenKeyColumn(i))}`]))].join(", ")

const hasHidden = (plan: SourcePlan): boolean => plan.rendered.some((r) => r !== null)

// Checkpoints are JSON: bigint and other non-JSON scalars become strings.
const jsonSafe = (source: KeysetSource, column: string, value: Value): Effect.Effect<KeyValue, PgError> => {
  switch (typeof value) {
    case "string":
    case "boolean":
      return Effect.succeed(value)
    case "bigint":
      return Effect.succeed(value.toString())
    case "number":
      return Effect.succeed(Number.isFinite(value) ? value : String(value))
  }
  if (value instanceof Date) return Effect.succeed(value.toISOString())
  return Effect.fail(
    pgFailure("UnsupportedKeyType", `${sourceLabel(source)}: key column ${JSON.stringify(column)} must be a scalar (number, text, uuid, date/time, boolean)`)
  )
}

/** A row's key as a checkpoint-safe tuple (the row was selected with `selectWithKeys`). */
export const keyOf = (plan: SourcePlan, row: Readonly<Record<string, Value>>): Effect.Effect<KeyTuple, PgError> =>
  Effect.forEach(plan.source.key, (k, i) =>
    plan.rendered[i] === null ? jsonSafe(plan.source, k, row[k] as Value) : Effect.succeed(row[hiddenKeyColumn(i)] as string))

/** Drops the hidden key columns again. */
export const stripHidden = (plan: SourcePlan, rows: ReadonlyArray<Record<string, Value>>): ReadonlyArray<Row> => {
  if (!hasHidden(plan)) return rows
  const hidden = new Set(plan.rendered.flatMap((r, i) => (r === null ? [] : [hiddenKeyColumn(i)])))
  return rows.map((row) => {
    const out: Record<string, Value> = {}
    for (const k in row) if (!hidden.has(k)) out[k] = row[k] as Value
    return out
  })
}

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
        Effect.forEach(source.key, (k, i) => jsonSafe(source, k, row[hiddenKeyColumn(i)] as Value)),
        (key) => ({ key, count: Number(row["n"] as bigint) })
      ))
  })
