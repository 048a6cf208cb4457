import { isIdentifier } from "@polymath/dsl"
import type { EndpointRef, LabelFromColumn, PropertyMapping } from "../GraphConnector.ts"
import { unitsOf } from "../Plan.ts"
import type { EmbedUnit, GraphUnit, Plan, PlannedUnit, RelationshipUnit } from "../Plan.ts"
import type { Row, Value } from "../Rows.ts"
import { badText } from "../run/EmbedWork.ts"
import { identityRoles, missingIdentity } from "../run/GraphWork.ts"
import { foldRows } from "./Fold.ts"
import { sameValue, showValue, withoutNulls } from "./Values.ts"

/*
 * What a pipeline's mappings make of given source rows, without a database: each unit
 * reads its source as a run does (rows with a NULL key or cursor left out and rejected,
 * folded by identity where the plan folds), rejects what its step would reject, and
 * writes into an empty in-memory graph: nodes MERGEd on label and key, relationships
 * MERGEd between endpoints that some node of the same pass matches. Vectors are not
 * computed: an embed unit yields the (id, text) pairs it would embed. What only a live
 * store knows is left out: an incremental source is read whole (as by a first run without
 * `initial`), and an embed target row is taken to exist.
 */

/** A node as it would be in the graph: its labels and its properties (NULL ones are absent). */
export interface SimulatedNode {
  /** The mapping's label. */
  readonly label: string
  /** Labels from `labels_from`. */
  readonly extraLabels: ReadonlyArray<string>
  /** The key properties, in key order. */
  readonly key: Readonly<Record<string, Value>>
  /** Every property, the key's included; not the lineage scope or the stamp. */
  readonly properties: Readonly<Record<string, Value>>
  readonly unit: string
}

/** A relationship as it would be in the graph. */
export interface SimulatedRelationship {
  readonly type: string
  readonly startLabel: string
  readonly start: Readonly<Record<string, Value>>
  readonly endLabel: string
  readonly end: Readonly<Record<string, Value>>
  /** The relationship's own identity properties (`key:`). */
  readonly key: Readonly<Record<string, Value>>
  /** Every property, the identity's included; not the lineage scope or the stamp. */
  readonly properties: Readonly<Record<string, Value>>
  readonly unit: string
}

/** A text an embed step would embed. */
export interface SimulatedEmbedding {
  readonly step: string
  readonly id: Value
  readonly text: string
}

/** A row a step would reject, by its source key as `polymath_etl.rejected_rows` records it. */
export interface SimulatedRejection {
  readonly step: string
  readonly unit: string
  readonly source: string
  readonly key: Readonly<Record<string, Value>>
  readonly reason: string
}

/** Given rows a real source could not yield (a run would stop before writing), so nothing is simulated. */
export interface RowProblem {
  readonly source: string
  /** Index of the row in the given rows. */
  readonly row: number
  readonly message: string
}

export interface Simulation {
  readonly nodes: ReadonlyArray<SimulatedNode>
  readonly relationships: ReadonlyArray<SimulatedRelationship>
  readonly embedded: ReadonlyArray<SimulatedEmbedding>
  readonly rejected: ReadonlyArray<SimulatedRejection>
  readonly problems: ReadonlyArray<RowProblem>
}

const pick = (row: Row, mappings: ReadonlyArray<PropertyMapping>): Record<string, Value> => {
  const out: Record<string, Value> = {}
  for (const m of mappings) out[m.property] = row[m.column] ?? null
  return out
}

const identityText = (values: ReadonlyArray<Value | undefined>): string => values.map(showValue).join("\u0000")

const cursorOf = (u: PlannedUnit): string | null => u.source.incremental?.column ?? null

/** The columns given rows must have: what the unit reads, and the cursor of an incremental source. */
const problemsOf = (plan: Plan, sources: ReadonlyMap<string, ReadonlyArray<Row>>): ReadonlyArray<RowProblem> => {
  const problems: Array<RowProblem> = []
  const reported = new Set<string>()
  const once = (id: string, p: RowProblem) => {
    if (reported.has(id)) return
    reported.add(id)
    problems.push(p)
  }
  for (const u of unitsOf(plan)) {
    const source = u.source.keyset.name
    const rows = sources.get(source) ?? []
    const cursor = cursorOf(u)
    const columns = [...u.columns, ...(cursor === null ? [] : [cursor])]
    rows.forEach((row, i) => {
      for (const c of columns) {
        if (!(c in row)) once(`${source}\u0000column\u0000${c}`, { source, row: i, message: `row has no column ${c}, which ${u.unit} reads (write ${c}: null for a NULL)` })
      }
    })
    // A keyset read fails on a repeated key (a folded read is keyed by identity, which folding makes unique).
    if (u.source.keyset.fold !== null) continue
    const key = u.source.keyset.key
    const seen = new Map<string, number>()
    rows.forEach((row, i) => {
      if (key.some((k) => row[k] === null || row[k] === undefined)) return
      const id = identityText(key.map((k) => row[k]))
      const first = seen.get(id)
      if (first === undefined) seen.set(id, i)
      else once(`${source}\u0000key\u0000${id}`, { source, row: i, message: `key ${key.map((k) => `${k}=${showValue(row[k])}`).join(", ")} repeats row ${first + 1}: the source's key must identify one row (a run fails on it)` })
    })
  }
  return problems
}

/** Why a row the read leaves out (a NULL key or cursor) is rejected; the same words as a run's. */
const nullKeyReason = (u: PlannedUnit, row: Row): string | null => {
  const key = u.source.keyset.key
  const cursor = cursorOf(u)
  const column = [...key, ...(cursor === null ? [] : [cursor])].find((c) => row[c] === null || row[c] === undefined)
  if (column === undefined) return null
  if (u.kind !== "embed") {
    const why = missingIdentity(u, identityRoles(u), row)
    if (why !== null) return why
  }
  return column === cursor ? `cursor column ${column} is NULL` : `source key column ${column} is NULL`
}

const capitalise = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1)

/** The extra label a `labels_from` value gives, unvalidated (as libs/neo4j derives it). */
const labelForValue = (value: Value | undefined, from: LabelFromColumn): string | null => {
  if (value === undefined || value === null) return null
  const text = typeof value === "string" ? value : showValue(value)
  return from.map?.[text] ?? capitalise(text)
}

const describeKey = (row: Row, key: ReadonlyArray<PropertyMapping>): string => key.map((k) => `${k.property}=${showValue(row[k.column])}`).join(", ")

/** Runs every unit of the plan over the given rows (a source not given yields no rows). */
export const simulate = (plan: Plan, sources: ReadonlyMap<string, ReadonlyArray<Row>>): Simulation => {
  const problems = problemsOf(plan, sources)
  if (problems.length > 0) return { nodes: [], relationships: [], embedded: [], rejected: [], problems }

  const nodes = new Map<string, { label: string; extraLabels: Set<string>; key: Record<string, Value>; properties: Record<string, Value>; unit: string }>()
  const relationships = new Map<string, SimulatedRelationship>()
  const embedded: Array<SimulatedEmbedding> = []
  const rejected: Array<SimulatedRejection> = []
  const pending: Array<{ readonly unit: RelationshipUnit; readonly row: Row }> = []

  const reject = (u: PlannedUnit, row: Row, reason: string) =>
    rejected.push({ step: u.step, unit: u.unit, source: u.source.keyset.name, key: Object.fromEntries(u.source.keyset.key.map((k) => [k, row[k] ?? null])), reason })

  const embedRow = (u: EmbedUnit, row: Row) => {
    const id = row[u.idColumn]
    if (id === undefined || id === null) return reject(u, row, `id column ${u.idColumn} is NULL`)
    const why = badText(row[u.textColumn], u.textColumn)
    if (why !== null) return reject(u, row, why)
    embedded.push({ step: u.step, id, text: row[u.textColumn] as string })
  }

  const nodeRow = (u: GraphUnit & { readonly kind: "nodes" }, row: Row) => {
    const w = u.write
    let extra: string | null = null
    if (w.labelFrom !== null) {
      extra = labelForValue(row[w.labelFrom.column], w.labelFrom)
      if (extra !== null && !isIdentifier(extra)) {
        return reject(u, row, `column ${w.labelFrom.column} value ${showValue(row[w.labelFrom.column])} gives label ${JSON.stringify(extra)}, which is not a valid label`)
      }
    }
    const key = pick(row, w.key)
    const id = `${w.label}\u0000${identityText(Object.values(key))}`
    const node = nodes.get(id) ?? { label: w.label, extraLabels: new Set<string>(), key, properties: { ...key }, unit: u.unit }
    // SET n.p = NULL removes a property: the last writer's NULL wins as an absence.
    for (const p of w.properties) if (!(p.property in key)) node.properties[p.property] = row[p.column] ?? null
    if (extra !== null) node.extraLabels.add(extra)
    nodes.set(id, node)
  }

  for (const u of unitsOf(plan)) {
    const read: Array<Row> = []
    for (const row of sources.get(u.source.keyset.name) ?? []) {
      const why = nullKeyReason(u, row)
      if (why !== null) reject(u, row, why)
      else read.push(row)
    }
    const fold = u.source.keyset.fold
    const rows = fold === null ? read : foldRows(read, fold)
    for (const row of rows) {
      if (u.kind === "embed") {
        embedRow(u, row)
        continue
      }
      const why = missingIdentity(u, identityRoles(u), row)
      if (why !== null) reject(u, row, why)
      else if (u.kind === "nodes") nodeRow(u, row)
      // Relationships MATCH their endpoints: they are written once every node of the pass is.
      else pending.push({ unit: u, row })
    }
  }

  const written = [...nodes.values()]
  const exists = (endpoint: EndpointRef, row: Row): boolean =>
    written.some((n) => (n.label === endpoint.label || n.extraLabels.has(endpoint.label)) && endpoint.key.every((k) => sameValue(n.properties[k.property], row[k.column])))
  for (const { row, unit: u } of pending) {
    const w = u.write
    const hasStart = exists(w.start, row)
    const hasEnd = exists(w.end, row)
    if (!hasStart || !hasEnd) {
      const missing = (e: EndpointRef, end: string) => `no ${e.label} node with ${describeKey(row, e.key)} (${end} of ${w.type})`
      reject(u, row, [...(hasStart ? [] : [missing(w.start, "start")]), ...(hasEnd ? [] : [missing(w.end, "end")])].join("; "))
      continue
    }
    const start = pick(row, w.start.key)
    const end = pick(row, w.end.key)
    const key = pick(row, w.key)
    const id = [w.type, w.start.label, identityText(Object.values(start)), w.end.label, identityText(Object.values(end)), identityText(Object.values(key))].join("\u0001")
    const properties = { ...(relationships.get(id)?.properties ?? {}), ...key }
    for (const p of w.properties) if (!(p.property in key)) properties[p.property] = row[p.column] ?? null
    relationships.set(id, { type: w.type, startLabel: w.start.label, start, endLabel: w.end.label, end, key, properties, unit: u.unit })
  }

  return {
    nodes: written.map((n) => ({ label: n.label, extraLabels: [...n.extraLabels], key: n.key, properties: withoutNulls(n.properties), unit: n.unit })),
    relationships: [...relationships.values()].map((r) => ({ ...r, properties: withoutNulls(r.properties) })),
    embedded,
    rejected,
    problems: []
  }
}
