import type { EndpointRef, Identity, SyncScope } from "../GraphConnector.ts"
import type { EmbedUnit, NodeUnit, Plan, RelationshipUnit } from "../Plan.ts"
import type { Value } from "../Rows.ts"

/** A graph mapping with what reading it needs: the step's scope and graph connection. */
export interface Mapped<U> {
  readonly unit: U
  readonly scope: SyncScope
  readonly connection: string
}

/** What `trace` walks: the pipeline's node mappings by label, its relationship mappings, its embed steps. */
export interface TraceModel {
  readonly pipeline: string
  readonly nodes: ReadonlyMap<string, Mapped<NodeUnit>>
  readonly relationships: ReadonlyArray<Mapped<RelationshipUnit>>
  readonly embeds: ReadonlyArray<EmbedUnit>
}

/** The model of a compiled plan; a label several mappings write is traced through the first. */
export const traceModel = (plan: Plan): TraceModel => {
  const nodes = new Map<string, Mapped<NodeUnit>>()
  const relationships: Array<Mapped<RelationshipUnit>> = []
  const embeds: Array<EmbedUnit> = []
  for (const step of plan.steps) {
    if (step.kind === "embed") {
      embeds.push(step.unit)
      continue
    }
    for (const unit of step.units) {
      const mapped = { scope: step.scope, connection: step.connection }
      if (unit.kind === "nodes") {
        if (!nodes.has(unit.write.label)) nodes.set(unit.write.label, { ...mapped, unit })
      } else relationships.push({ ...mapped, unit })
    }
  }
  return { pipeline: plan.pipeline, nodes, relationships, embeds }
}

/** Where a trace starts: a node mapping and the values of the first key properties. */
export interface TraceStart {
  readonly node: Mapped<NodeUnit>
  readonly values: ReadonlyArray<string>
}

/** The start a user asked for, or why it is none (an unknown label, too many or no key values). */
export const resolveStart = (model: TraceModel, label: string, values: ReadonlyArray<string>): TraceStart | { readonly problem: string } => {
  const node = model.nodes.get(label)
  const labels = [...model.nodes.keys()]
  if (node === undefined) {
    return { problem: labels.length === 0 ? `pipeline ${model.pipeline} writes no nodes` : `pipeline ${model.pipeline} writes no ${label} nodes; labels: ${labels.join(", ")}` }
  }
  const key = node.unit.write.key.map((k) => k.property)
  if (values.length === 0 || values.length > key.length) {
    return { problem: `${label} is keyed by (${key.join(", ")}): give ${key.length === 1 ? "its value" : `1 to ${key.length} values, in that order`}; got ${values.length}` }
  }
  return { node, values }
}

/**
 * What a typed key value may be in the graph: the text itself, and the integer, number or
 * flag it spells (Postgres types a parameter from its column; Neo4j compares values as typed).
 */
export const candidates = (text: string): ReadonlyArray<Value> => {
  const out: Array<Value> = [text]
  if (/^-?\d+$/.test(text)) out.push(BigInt(text))
  else if (text.trim() !== "" && Number.isFinite(Number(text))) out.push(Number(text))
  if (text === "true" || text === "false") out.push(text === "true")
  return out
}

/** A node's key values reordered from one key order (property names) to another. */
export const reorder = (values: Identity, from: ReadonlyArray<string>, to: ReadonlyArray<string>): Identity =>
  to.map((p) => values[from.indexOf(p)] ?? null)

/** The key property names of an endpoint or node write. */
export const keyProperties = (ref: Pick<EndpointRef, "key">): ReadonlyArray<string> => ref.key.map((k) => k.property)

/**
 * The embed step whose vectors belong to a node mapping: one keyed by a single column that is
 * the embed step's id column or its target's key. Null when no step embeds these nodes' rows.
 */
export const embedOf = (model: TraceModel, node: NodeUnit): EmbedUnit | null => {
  if (node.write.key.length !== 1) return null
  const k = node.write.key[0]!
  return model.embeds.find((e) => e.idColumn === k.column || e.target.key === k.column) ?? null
}
