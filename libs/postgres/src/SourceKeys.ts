import { Effect } from "effect"
import { Reason } from "@polymath/engine"
import type { KeysetSource, KeyTuple, Row, Value } from "@polymath/engine"
import { quoteIdent } from "./Identifier.ts"
import { pgFailure } from "./PgError.ts"
import type { PgError } from "./PgError.ts"
import { sourceLabel } from "./Source.ts"
import type { SourcePlan } from "./Source.ts"

// A row's key travels as a checkpoint (JSON) and comes back as query parameters, so every
// value is made JSON-safe here, and date/time keys are read from a server-rendered column.

type KeyValue = KeyTuple[number]

/** The name of the hidden column that carries key position `i` as its checkpoint text. */
export const hiddenKeyColumn = (i: number): string => `__polymath_key_${i}`

/** `src.*` plus one hidden column per date/time key, which `keysOf` reads and `stripHidden` removes. */
export const selectWithKeys = (plan: SourcePlan): string =>
  ["src.*", ...plan.rendered.flatMap((r, i) => (r === null ? [] : [`${r} AS ${quoteIdent(hiddenKeyColumn(i))}`]))].join(", ")

const hasHidden = (plan: SourcePlan): boolean => plan.rendered.some((r) => r !== null)

// A key value as a checkpoint holds it, or undefined for a value that cannot be one. Plain
// code, not an Effect per value: it runs for every row read (an Effect.forEach per row cost
// a sync about 0.1 s of client CPU and garbage per 100,000 rows).
const keyValue = (value: Value): KeyValue | undefined => {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value
    case "bigint":
      return value.toString()
    case "number":
      return Number.isFinite(value) ? value : String(value)
  }
  if (value instanceof Date) return value.toISOString()
  return undefined
}

const unsupportedKey = (source: KeysetSource, column: string): PgError =>
  pgFailure(
    new Reason.BadData({ detail: "UnsupportedKeyType" }),
    `${sourceLabel(source)}: key column ${JSON.stringify(column)} must be a scalar (number, text, uuid, date/time, boolean)`
  )

/** A key value as a checkpoint holds it: JSON, so bigint and other non-JSON scalars become strings. */
export const checkpointValue = (source: KeysetSource, column: string, value: Value): Effect.Effect<KeyValue, PgError> => {
  const v = keyValue(value)
  return v === undefined ? Effect.fail(unsupportedKey(source, column)) : Effect.succeed(v)
}

/** Each row's key as a checkpoint-safe tuple (the rows were selected with `selectWithKeys`). */
export const keysOf = (plan: SourcePlan, rows: ReadonlyArray<Readonly<Record<string, Value>>>): Effect.Effect<ReadonlyArray<KeyTuple>, PgError> => {
  const key = plan.source.key
  const out: Array<KeyTuple> = new Array(rows.length)
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r]!
    const tuple: Array<KeyValue> = new Array(key.length)
    for (let i = 0; i < key.length; i++) {
      if (plan.rendered[i] !== null) {
        tuple[i] = row[hiddenKeyColumn(i)] as string
        continue
      }
      const v = keyValue(row[key[i]!] as Value)
      if (v === undefined) return Effect.fail(unsupportedKey(plan.source, key[i]!))
      tuple[i] = v
    }
    out[r] = tuple
  }
  return Effect.succeed(out)
}

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
