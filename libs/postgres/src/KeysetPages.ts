import { Effect, Option, Stream } from "effect"
import type pg from "pg"
import type { KeysetSource, KeyTuple, Page, Row, Value } from "@polymath/engine"
import { quoteIdent } from "./Identifier.ts"
import { pgFailure } from "./PgError.ts"
import type { PgError } from "./PgError.ts"
import { runQuery } from "./PgPool.ts"
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

const hiddenKeyColumn = (i: number): string => `__polymath_key_${i}`

/** How one source is paged: the SQL pieces that do not change from page to page. */
interface PagePlan {
  readonly select: string
  readonly from: string
  readonly order: string
  /** Key columns in the order clause, each as `src."k"`. */
  readonly cols: ReadonlyArray<string>
  /** For each key position, the hidden text column that renders it, or null when the JS value is exact. */
  readonly rendered: ReadonlyArray<string | null>
  readonly hidden: boolean
}

const sourceLabel = (source: KeysetSource): string => `source ${JSON.stringify(source.name)}`

// One `LIMIT 0` probe tells us the result's column types, so key columns are checked
// up front and date/time keys get their exact server rendering.
const plan = (pool: pg.Pool, source: KeysetSource): Effect.Effect<PagePlan, PgError> =>
  Effect.gen(function*() {
    const from = asSubquery(source.statement)
    const probe = yield* runQuery(pool, `reading ${sourceLabel(source)}`, `SELECT * FROM ${from} LIMIT 0`, source.statement.params)
    const types = new Map(probe.fields.map((f) => [f.name, f.dataTypeID]))
    const missing = source.key.filter((k) => !types.has(k))
    if (missing.length > 0) {
      return yield* pgFailure(
        "UndefinedColumn",
        `${sourceLabel(source)} has no key column ${missing.map((k) => JSON.stringify(k)).join(", ")} (columns: ${[...types.keys()].join(", ")})`,
        "42703"
      )
    }
    const cols = source.key.map((k) => `src.${quoteIdent(k)}`)
    const rendered = source.key.map((k, i) => (TIME_KEY_RENDER.has(types.get(k) ?? 0) ? hiddenKeyColumn(i) : null))
    const extra = source.key.flatMap((k, i) => {
      const render = TIME_KEY_RENDER.get(types.get(k) ?? 0)
      return render === undefined ? [] : [`${render(cols[i] as string)} AS ${quoteIdent(hiddenKeyColumn(i))}`]
    })
    return {
      select: ["src.*", ...extra].join(", "),
      from,
      order: cols.join(", "),
      cols,
      rendered,
      hidden: extra.length > 0
    }
  })

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

// The key of every row is checked, not just the last: a NULL anywhere breaks keyset
// order (NULLs sort last and never compare greater), so rows would be silently lost.
const checkKeys = (source: KeysetSource, rows: ReadonlyArray<Row>): Effect.Effect<void, PgError> => {
  for (const row of rows) {
    const nullAt = source.key.findIndex((k) => row[k] === null || row[k] === undefined)
    if (nullAt >= 0) {
      const others = source.key.filter((_, i) => i !== nullAt).map((k) => `${k}=${String(row[k])}`)
      return Effect.fail(
        pgFailure(
          "NullKey",
          `${sourceLabel(source)}: a row has NULL in key column ${JSON.stringify(source.key[nullAt])}` +
            (others.length > 0 ? ` (other key values: ${others.join(", ")})` : "") +
            "; keyset pagination needs non-null, unique keys"
        )
      )
    }
  }
  return Effect.void
}

const stripHidden = (plan: PagePlan, rows: ReadonlyArray<Record<string, Value>>): ReadonlyArray<Row> => {
  if (!plan.hidden) return rows
  const hidden = new Set(plan.rendered.filter((h) => h !== null))
  return rows.map((row) => {
    const out: Record<string, Value> = {}
    for (const k in row) if (!hidden.has(k)) out[k] = row[k] as Value
    return out
  })
}

const lastKeyOf = (source: KeysetSource, plan: PagePlan, row: Record<string, Value>): Effect.Effect<KeyTuple, PgError> =>
  Effect.forEach(source.key, (k, i) => {
    const hidden = plan.rendered[i]
    return hidden === null || hidden === undefined ? jsonSafe(source, k, row[k] as Value) : Effect.succeed(row[hidden] as string)
  })

const validate = (source: KeysetSource, after: KeyTuple | null): Effect.Effect<void, PgError> => {
  if (source.key.length === 0) return Effect.fail(pgFailure("InvalidSource", `${sourceLabel(source)} has no key columns`))
  if (!Number.isSafeInteger(source.pageSize) || source.pageSize <= 0) {
    return Effect.fail(pgFailure("InvalidSource", `${sourceLabel(source)}: page size must be a positive integer, got ${source.pageSize}`))
  }
  if (after !== null && after.length !== source.key.length) {
    return Effect.fail(
      pgFailure(
        "InvalidCheckpoint",
        `${sourceLabel(source)}: checkpoint has ${after.length} key value(s) but the key has ${source.key.length} column(s)`
      )
    )
  }
  return Effect.void
}

/**
 * Streams a source in key order, one page per query:
 * `SELECT * FROM (<statement>) AS src WHERE (k1, k2) > ($n+1, $n+2) ORDER BY k1, k2 LIMIT $m`.
 * Only one page is ever in memory; the stream ends after the first short page.
 */
export const keysetPages = (pool: pg.Pool, source: KeysetSource, after: KeyTuple | null): Stream.Stream<Page, PgError> =>
  Stream.unwrap(
    Effect.gen(function*() {
      yield* validate(source, after)
      const p = yield* plan(pool, source)
      const base = source.statement.params
      const n = base.length
      const k = source.key.length
      const afterClause = k === 1
        ? `${p.cols[0]} > $${n + 1}`
        : `(${p.cols.join(", ")}) > (${source.key.map((_, i) => `$${n + 1 + i}`).join(", ")})`
      const firstText = `SELECT ${p.select} FROM ${p.from} ORDER BY ${p.order} LIMIT $${n + 1}`
      const nextText = `SELECT ${p.select} FROM ${p.from} WHERE ${afterClause} ORDER BY ${p.order} LIMIT $${n + k + 1}`
      const context = `reading ${sourceLabel(source)}`

      const page = (from: KeyTuple | null) =>
        Effect.gen(function*() {
          const result = from === null
            ? yield* runQuery(pool, context, firstText, [...base, source.pageSize])
            : yield* runQuery(pool, context, nextText, [...base, ...from, source.pageSize])
          const raw = result.rows as ReadonlyArray<Record<string, Value>>
          const last = raw[raw.length - 1]
          if (last === undefined) return [[], Option.none()] as const
          yield* checkKeys(source, raw)
          const lastKey = yield* lastKeyOf(source, p, last)
          const rows = stripHidden(p, raw)
          const next = raw.length < source.pageSize ? Option.none() : Option.some<KeyTuple | null>(lastKey)
          return [[{ rows, lastKey }], next] as const
        })

      return Stream.paginate<KeyTuple | null, Page, PgError>(after, page)
    })
  )
