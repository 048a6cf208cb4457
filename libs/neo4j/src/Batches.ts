/**
 * Turns a batch of source rows into statement parameters: column values mapped to
 * property names, node rows grouped by their `labelFrom` label, relationship rows
 * deduplicated per (start, end) with each property's `combine` rule.
 */
import type { Combine, LabelFromColumn, NodeWrite, PropertyMapping, RelationshipWrite, Row, Value } from "@polymath/engine"
import { isIdentifier } from "./Cypher.ts"
import { invalidInput } from "./Neo4jError.ts"

const show = (v: Value | undefined): string => {
  if (v === undefined || v === null) return "null"
  if (typeof v === "bigint") return v.toString()
  if (v instanceof Date) return v.toISOString()
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? x.toString() : x))
}

/** Renders a row's key for messages: `doi="10.1/x", year=2019`. */
export const describeKey = (row: Row, key: ReadonlyArray<PropertyMapping>): string =>
  key.map((k) => `${k.property}=${show(row[k.column])}`).join(", ")

const pick = (row: Row, mappings: ReadonlyArray<PropertyMapping>): Record<string, Value> => {
  const out: Record<string, Value> = {}
  for (const m of mappings) out[m.property] = row[m.column] ?? null
  return out
}

const capitalise = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1)

/**
 * The extra label for a `labelFrom` column value: the map's entry, else the value capitalised.
 * A null value adds no label. Returns the label unvalidated.
 */
export const labelForValue = (value: Value | undefined, from: LabelFromColumn): string | null => {
  if (value === undefined || value === null) return null
  const text = typeof value === "string" ? value : show(value)
  return from.map?.[text] ?? capitalise(text)
}

/** Node rows that share one extra label, as parameter maps keyed by property name. */
export interface NodeGroup {
  readonly extraLabel: string | null
  readonly rows: ReadonlyArray<Record<string, Value>>
}

/**
 * Groups a node batch by extra label, in first-seen order. Throws a non-retryable Neo4jError
 * naming the row's key when a key value is null or the label is not a valid identifier.
 */
export const prepareNodeBatch = (write: NodeWrite, rows: ReadonlyArray<Row>): ReadonlyArray<NodeGroup> => {
  const groups = new Map<string | null, Array<Record<string, Value>>>()
  for (const row of rows) {
    for (const k of write.key) {
      const v = row[k.column]
      if (v === undefined || v === null) {
        throw invalidInput("NullKey", `node ${write.label} row (${describeKey(row, write.key)}) has a null key property ${k.property} (column ${k.column})`)
      }
    }
    let extraLabel: string | null = null
    if (write.labelFrom !== null) {
      extraLabel = labelForValue(row[write.labelFrom.column], write.labelFrom)
      if (extraLabel !== null && !isIdentifier(extraLabel)) {
        throw invalidInput(
          "InvalidLabel",
          `node ${write.label} row (${describeKey(row, write.key)}): column ${write.labelFrom.column} value ${show(row[write.labelFrom.column])} gives label ${JSON.stringify(extraLabel)}, which is not a valid identifier`
        )
      }
    }
    const params = { ...pick(row, write.properties), ...pick(row, write.key) }
    const group = groups.get(extraLabel)
    if (group === undefined) groups.set(extraLabel, [params])
    else group.push(params)
  }
  return Array.from(groups, ([extraLabel, groupRows]) => ({ extraLabel, rows: groupRows }))
}

/**
 * Orders two values the way Cypher's `>=` does for like types; null when they are not
 * comparable (mixed types), in which case Cypher's CASE falls through to the row's value.
 */
export const compareValues = (a: Value, b: Value): number | null => {
  const numeric = (x: Value): x is number | bigint => typeof x === "number" || typeof x === "bigint"
  if (numeric(a) && numeric(b)) return a < b ? -1 : a > b ? 1 : 0
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0
  if (typeof a === "boolean" && typeof b === "boolean") return Number(a) - Number(b)
  if (a instanceof Date && b instanceof Date) return Math.sign(a.getTime() - b.getTime())
  return null
}

/** Applies one combine rule to a stored and an incoming value, mirroring the Cypher CASE. */
export const combineValues = (combine: Combine, stored: Value, incoming: Value): Value => {
  if (combine === "last") return incoming
  if (stored === null) return incoming
  if (incoming === null) return stored
  const order = compareValues(stored, incoming)
  if (order === null) return incoming
  return (combine === "max" ? order >= 0 : order <= 0) ? stored : incoming
}

/** One relationship to MERGE, standing for `count` source rows with the same endpoints. */
export interface RelationshipEntry {
  readonly s: Readonly<Record<string, Value>>
  readonly e: Readonly<Record<string, Value>>
  readonly p: Readonly<Record<string, Value>>
  /** The first source row, for missing-endpoint samples. */
  readonly source: Row
  readonly count: number
}

const identityOf = (s: Readonly<Record<string, Value>>, e: Readonly<Record<string, Value>>): string =>
  JSON.stringify([s, e], (_k, x: unknown) => (typeof x === "bigint" ? `${x.toString()}n` : x))

/** Deduplicates a relationship batch per (start key, end key), combining properties in row order. */
export const prepareRelationshipBatch = (write: RelationshipWrite, rows: ReadonlyArray<Row>): ReadonlyArray<RelationshipEntry> => {
  const entries = new Map<string, { s: Record<string, Value>; e: Record<string, Value>; p: Record<string, Value>; source: Row; count: number }>()
  for (const row of rows) {
    const s = pick(row, write.start.key)
    const e = pick(row, write.end.key)
    const p = pick(row, write.properties)
    const id = identityOf(s, e)
    const existing = entries.get(id)
    if (existing === undefined) {
      entries.set(id, { s, e, p, source: row, count: 1 })
      continue
    }
    existing.count += 1
    for (const prop of write.properties) {
      existing.p[prop.property] = combineValues(prop.combine, existing.p[prop.property] ?? null, p[prop.property] ?? null)
    }
  }
  return Array.from(entries.values())
}
