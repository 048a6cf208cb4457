import type { ConnectorFailure } from "../ConnectorError.ts"
import type { Connectors } from "../Connectors.ts"
import { DataError, StepError } from "../EngineError.ts"
import type { FailureContext } from "../EngineError.ts"
import type { GraphConnector } from "../GraphConnector.ts"
import { formatKey } from "../Rows.ts"
import type { KeyTuple, Page, Row, Value } from "../Rows.ts"
import type { SqlConnector } from "../SqlConnector.ts"

/** The open SQL connection a plan names; the plan was checked against the spec, so a miss is a bug. */
export const sqlOf = (c: Connectors["Service"], name: string): SqlConnector => {
  const s = c.sql.get(name)
  if (!s) throw new Error(`connection ${name} is not open`)
  return s
}

/** The open graph connection a plan names. */
export const graphOf = (c: Connectors["Service"], name: string): GraphConnector => {
  const g = c.graph.get(name)
  if (!g) throw new Error(`connection ${name} is not open`)
  return g
}

const keyPart = (v: Value | undefined): KeyTuple[number] => {
  if (v === undefined || v === null) return null
  if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") return v
  if (typeof v === "bigint") return v.toString()
  if (v instanceof Date) return v.toISOString()
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? x.toString() : x))
}

/** One value as messages show it: JSON, bigints and dates as their text. */
export const showValue = (v: Value | undefined): string => JSON.stringify(keyPart(v))

/** A row's values of `columns`, JSON-safe, for checkpoints and the rejected-rows table. */
export const keyTuple = (row: Row, columns: ReadonlyArray<string>): KeyTuple => columns.map((c) => keyPart(row[c]))

/** `passage_id=…, concept_name=…`: a row's key for messages. */
export const describeKey = (row: Row, columns: ReadonlyArray<string>): string =>
  columns.map((c) => `${c}=${showValue(row[c])}`).join(", ")

/** The first and last key of a page, for error context. */
export const keyRange = (page: Page, key: ReadonlyArray<string>): string => {
  const first = page.rows[0]
  return first ? `${formatKey(keyTuple(first, key))} .. ${formatKey(page.lastKey)}` : formatKey(page.lastKey)
}

/** Wraps a connector failure in the step's context (engine errors pass through). */
export const toStepError = (context: FailureContext) => (e: ConnectorFailure): StepError | DataError =>
  e instanceof DataError || e instanceof StepError ? e : new StepError({ context, reason: e.reason, detail: e.message })

/** How many bad rows an error message names before it says "and N more". */
export const listedBadRows = 20

/** A row the step could not write, and why. */
export interface BadRow {
  readonly row: Row
  readonly reason: string
}

/**
 * The failure for bad rows under `on_error: fail`: every bad row of the batch (up to a
 * limit), by key. `total` is how many there are when `bad` holds only the first ones.
 */
export const badRowsError = (context: FailureContext, key: ReadonlyArray<string>, bad: ReadonlyArray<BadRow>, total = bad.length): DataError => {
  const listed = bad.slice(0, listedBadRows)
  return new DataError({
    context,
    detail: `${total} row${total === 1 ? "" : "s"} cannot be written:\n${listed.map((b) => `  - ${describeKey(b.row, key)}: ${b.reason}`).join("\n")}${total > listed.length ? `\n  ... and ${total - listed.length} more` : ""}`,
    hint: "fix the source rows, or set on_error: skip on the step to record them in polymath_etl.rejected_rows and write the rest"
  })
}
