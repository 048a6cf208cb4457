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

/** `src.*` plus one hidden column per date/time key, which `keyOf` reads and `stripHidden` removes. */
export const selectWithKeys = (plan: SourcePlan): string =>
  ["src.*", ...plan.rendered.flatMap((r, i) => (r === null ? [] : [`${r} AS ${quoteIdent(hiddenKeyColumn(i))}`]))].join(", ")

const hasHidden = (plan: SourcePlan): boolean => plan.rendered.some((r) => r !== null)

/** A key value as a checkpoint holds it: JSON, so bigint and other non-JSON scalars become strings. */
export const checkpointValue = (source: KeysetSource, column: string, value: Value): Effect.Effect<KeyValue, PgError> => {
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
    pgFailure(
      new Reason.BadData({ detail: "UnsupportedKeyType" }),
      `${sourceLabel(source)}: key column ${JSON.stringify(column)} must be a scalar (number, text, uuid, date/time, boolean)`
    )
  )
}

/** A row's key as a checkpoint-safe tuple (the row was selected with `selectWithKeys`). */
export const keyOf = (plan: SourcePlan, row: Readonly<Record<string, Value>>): Effect.Effect<KeyTuple, PgError> =>
  Effect.forEach(plan.source.key, (k, i) =>
    plan.rendered[i] === null ? checkpointValue(plan.source, k, row[k] as Value) : Effect.succeed(row[hiddenKeyColumn(i)] as string))

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
