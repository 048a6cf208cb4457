import { Effect } from "effect"
import type pg from "pg"
import { foldedRowsColumn, Reason } from "@polymath/engine"
import type { KeysetSource, SourceDescription, SourceFold, SqlStatement, Value } from "@polymath/engine"
import { quoteIdent } from "./Identifier.ts"
import { pgFailure } from "./PgError.ts"
import type { PgError } from "./PgError.ts"
import { runSingleStatement } from "./PgPool.ts"
import { asSubquery } from "./Statement.ts"

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

/** How one source is read: the SQL pieces every query over it shares. */
export interface SourcePlan {
  readonly source: KeysetSource
  /** `(SELECT * FROM (<statement>) AS src WHERE <keys and cursor not null> [AND cursor >= $n] [AND keys <= range end]) AS src`: exactly the rows pages yield. */
  readonly from: string
  /** The statement's own parameters, then the cursor's lower bound and the range's end when there are. */
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

const invalidSource = (message: string): Effect.Effect<never, PgError> =>
  Effect.fail(pgFailure(new Reason.Syntax({ detail: "InvalidSource" }), message))

const validateSource = (source: KeysetSource): Effect.Effect<void, PgError> => {
  if (source.fold !== null && source.fold.identity.join("\u0000") !== source.key.join("\u0000")) {
    return invalidSource(`${sourceLabel(source)}: a folded source is keyed by its identity`)
  }
  if (source.key.length === 0) return invalidSource(`${sourceLabel(source)} has no key columns`)
  if (!Number.isSafeInteger(source.pageSize) || source.pageSize <= 0) {
    return invalidSource(`${sourceLabel(source)}: page size must be a positive integer, got ${source.pageSize}`)
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
        new Reason.Syntax({ detail: "UndefinedColumn" }),
        `${sourceLabel(source)} has no key column ${missingKeys.map((k) => JSON.stringify(k)).join(", ")} (columns: ${columns})`,
        "42703"
      )
    }
    const missingFolded = (source.fold?.columns ?? []).map((c) => c.column).concat(source.fold?.sourceKey ?? []).filter((c) => !types.has(c))
    if (missingFolded.length > 0) {
      return yield* pgFailure(
        new Reason.Syntax({ detail: "UndefinedColumn" }),
        `${sourceLabel(source)} has no column ${[...new Set(missingFolded)].map((k) => JSON.stringify(k)).join(", ")} (columns: ${columns})`,
        "42703"
      )
    }
    if (source.cursor !== null && !types.has(source.cursor.column)) {
      return yield* pgFailure(
        new Reason.Syntax({ detail: "UndefinedColumn" }),
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
    const through = source.through ?? null
    if (through !== null) {
      if (through.length !== cols.length) return yield* invalidSource(`${sourceLabel(source)}: a range bound has ${through.length} value(s) but the key has ${cols.length} column(s)`)
      // Untyped parameters again: each takes its key column's type, so a rendered date/time key compares exactly.
      const at = params.length
      params.push(...through)
      conditions.push(cols.length === 1 ? `${cols[0]} <= $${at + 1}` : `(${cols.join(", ")}) <= (${cols.map((_, i) => `$${at + 1 + i}`).join(", ")})`)
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
