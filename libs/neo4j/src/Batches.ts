/**
 * Turns a batch of source rows into statement parameters: each row one flat map (Cypher.ts),
 * node rows grouped by their `labelFrom` label, and rows that cannot be written (null
 * identity values, invalid labels) set aside with their reason.
 */
import type { EndpointRef, LabelFromColumn, NodeWrite, PropertyMapping, Rejection, RelationshipWrite, Row, Value } from "@polymath/engine"
import { isIdentifier } from "@polymath/dsl"
import { rowFieldName } from "./Cypher.ts"
import type { RowGroup } from "./Cypher.ts"
import { toDriverValue } from "./Values.ts"

const maxShown = 120

/** Renders a value for a message, bounded in length. */
export const showValue = (v: Value | undefined): string => {
  let text: string
  if (v === undefined || v === null) text = "null"
  else if (typeof v === "bigint") text = v.toString()
  else if (v instanceof Date) text = v.toISOString()
  else text = JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? x.toString() : x))
  return text.length > maxShown ? `${text.slice(0, maxShown)}…` : text
}

/** Renders a row's key for messages: `doi="10.1/x", year=2019`. */
export const describeKey = (row: Row, key: ReadonlyArray<PropertyMapping>): string =>
  key.map((k) => `${k.property}=${showValue(row[k.column])}`).join(", ")

/** The fields of a row map, each with the column it is read from. */
type Fields = ReadonlyArray<readonly [field: string, column: string]>

const fieldsOf = (group: RowGroup, mappings: ReadonlyArray<PropertyMapping>): Fields =>
  mappings.map((m) => [rowFieldName(group, m.property), m.column] as const)

// One map per row, filled in one pass: at 10^5-10^6 rows a sync, per-group maps merged
// afterwards were a measurable share of its garbage. The driver packs a JS number as a Float
// and a bigint as an Integer, which is the engine's convention.
const flatRow = (row: Row, fields: Fields, out: Record<string, unknown>): Record<string, unknown> => {
  for (const [field, column] of fields) out[field] = toDriverValue(row[column] ?? null)
  return out
}

const capitalise = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1)

/**
 * The extra label for a `labelFrom` column value: the map's entry, else the value capitalised.
 * A null value adds no label. Returns the label unvalidated.
 */
export const labelForValue = (value: Value | undefined, from: LabelFromColumn): string | null => {
  if (value === undefined || value === null) return null
  const text = typeof value === "string" ? value : showValue(value)
  return from.map?.[text] ?? capitalise(text)
}

// The first mapping whose column is null in the row, with what it stands for.
const nullColumn = (row: Row, mappings: ReadonlyArray<PropertyMapping>, role: (property: string) => string): string | null => {
  for (const m of mappings) {
    const v = row[m.column]
    if (v === undefined || v === null) return `column ${m.column} is null (${role(m.property)})`
  }
  return null
}

/** Node rows that share one extra label: their row maps (key `k_`, properties `p_`) and indexes in the batch. */
export interface NodeGroup {
  readonly extraLabel: string | null
  readonly rows: ReadonlyArray<Record<string, unknown>>
  readonly index: ReadonlyArray<number>
}

/** A node batch ready to send: label groups in first-seen order, and the rows that cannot be written. */
export interface PreparedNodes {
  readonly groups: ReadonlyArray<NodeGroup>
  readonly rejected: ReadonlyArray<Rejection>
  /** How many rows are in `groups`. */
  readonly valid: number
}

/** Groups a node batch by extra label, rejecting rows with a null key value or an invalid label. */
export const prepareNodeBatch = (write: NodeWrite, rows: ReadonlyArray<Row>): PreparedNodes => {
  const groups = new Map<string | null, { rows: Array<Record<string, unknown>>; index: Array<number> }>()
  const fields = [...fieldsOf("k", write.key), ...fieldsOf("p", write.properties)]
  const rejected: Array<Rejection> = []
  let valid = 0
  rows.forEach((row, i) => {
    const nullKey = nullColumn(row, write.key, (p) => `key ${p} of ${write.label}`)
    if (nullKey !== null) {
      rejected.push({ index: i, reason: nullKey })
      return
    }
    let extraLabel: string | null = null
    if (write.labelFrom !== null) {
      extraLabel = labelForValue(row[write.labelFrom.column], write.labelFrom)
      if (extraLabel !== null && !isIdentifier(extraLabel)) {
        rejected.push({
          index: i,
          reason: `column ${write.labelFrom.column} value ${showValue(row[write.labelFrom.column])} gives label ${JSON.stringify(extraLabel)}, which is not a valid label`
        })
        return
      }
    }
    valid += 1
    let group = groups.get(extraLabel)
    if (group === undefined) groups.set(extraLabel, group = { rows: [], index: [] })
    group.rows.push(flatRow(row, fields, {}))
    group.index.push(i)
  })
  return { groups: Array.from(groups, ([extraLabel, group]) => ({ extraLabel, ...group })), rejected, valid }
}

/**
 * A relationship batch ready to send: row maps (start key `s_`, end key `e_`, identity `k_`, other
 * properties `p_`, and with `withIndex` the row's index `i` as an Integer) with their indexes in the
 * batch, and the rows that cannot be written.
 */
export interface PreparedRelationships {
  readonly rows: ReadonlyArray<Record<string, unknown>>
  readonly index: ReadonlyArray<number>
  readonly rejected: ReadonlyArray<Rejection>
}

/** Maps a relationship batch to parameters, rejecting rows with a null endpoint key or identity value. */
export const prepareRelationshipBatch = (write: RelationshipWrite, rows: ReadonlyArray<Row>, withIndex = false): PreparedRelationships => {
  const out: Array<Record<string, unknown>> = []
  const index: Array<number> = []
  const rejected: Array<Rejection> = []
  const fields = [...fieldsOf("s", write.start.key), ...fieldsOf("e", write.end.key), ...fieldsOf("k", write.key), ...fieldsOf("p", write.properties)]
  rows.forEach((row, i) => {
    const reason = nullColumn(row, write.start.key, (p) => `start key ${p} of ${write.type}`) ??
      nullColumn(row, write.end.key, (p) => `end key ${p} of ${write.type}`) ??
      nullColumn(row, write.key, (p) => `identity property ${p} of ${write.type}`)
    if (reason !== null) {
      rejected.push({ index: i, reason })
      return
    }
    out.push(flatRow(row, fields, withIndex ? { i: BigInt(i) } : {}))
    index.push(i)
  })
  return { rows: out, index, rejected }
}

const missingNode = (endpoint: EndpointRef, row: Row, end: "start" | "end", type: string): string =>
  `no ${endpoint.label} node with ${describeKey(row, endpoint.key)} (${end} of ${type})`

/** Why a relationship row found no endpoint: `no Concept node with name="x", type="method" (end of MENTIONS)`. */
export const missingEndpointReason = (write: RelationshipWrite, row: Row, hasStart: boolean, hasEnd: boolean): string =>
  [
    ...(hasStart ? [] : [missingNode(write.start, row, "start", write.type)]),
    ...(hasEnd ? [] : [missingNode(write.end, row, "end", write.type)])
  ].join("; ")
