import { Effect } from "effect"
import type { ConnectorFailure } from "../ConnectorError.ts"
import { Connectors } from "../Connectors.ts"
import type { EndpointRef, Identity } from "../GraphConnector.ts"
import type { RelationshipUnit } from "../Plan.ts"
import type { Value } from "../Rows.ts"
import { graphOf, sqlOf } from "../run/Support.ts"
import { showIdentity, splitRelationship } from "./Describe.ts"
import { candidates } from "./Model.ts"
import type { Mapped, TraceModel, TraceStart } from "./Model.ts"
import { hex, scopeText, traceNodes } from "./Nodes.ts"
import type { Difference, TracedNode, TracedRelationship, TraceHop, TraceResult } from "./Types.ts"

/** Nodes of one label a hop starts from, at most this many (the rest are left out, and the result says so). */
export const frontierLimit = 2000

/** Nodes by their key properties, so any endpoint's key order can be read from them. */
type Keyed = Readonly<Record<string, Value>>
type Frontier = Map<string, Map<string, Keyed>>

const keyed = (ref: Pick<EndpointRef, "key">, values: Identity): Keyed => Object.fromEntries(ref.key.map((k, i) => [k.property, values[i] ?? null]))
const valuesOf = (ref: Pick<EndpointRef, "key">, node: Keyed): Identity => ref.key.map((k) => node[k.property] ?? null)

const add = (frontier: Frontier, label: string, node: Keyed) => {
  if (!frontier.has(label)) frontier.set(label, new Map())
  const props = Object.keys(node).sort()
  frontier.get(label)!.set(hex(props.flatMap((p) => [p, node[p]!])), node)
}

/** One relationship mapping followed from the frontier's nodes at one of its ends. */
const followHop = (connectors: Connectors["Service"], model: TraceModel, mapped: Mapped<RelationshipUnit>, side: "start" | "end", from: ReadonlyArray<Keyed>, hop: number, next: Frontier) =>
  Effect.gen(function*() {
    const { unit } = mapped
    const w = unit.write
    const here = w[side]
    const there = side === "start" ? w.end : w.start
    const tuples = from.map((n) => valuesOf(here, n))
    const rows = yield* sqlOf(connectors, unit.rawSource.connection).rowsMatching(unit.rawSource.keyset.statement, here.key.map((k) => k.column), tuples)
    const found = yield* graphOf(connectors, mapped.connection).relationshipsAt(w, side, tuples, mapped.scope)
    const byId = new Map<string, { identity: Identity; postgres: boolean; graph: TracedRelationship["graph"] }>()
    let incomplete = 0
    for (const row of rows) {
      const identity = unit.identity.map((c) => row[c] ?? null)
      if (identity.some((v) => v === null)) {
        incomplete++
        continue
      }
      const h = hex(identity)
      byId.set(h, { identity, postgres: true, graph: "none" })
    }
    let otherScopes = 0
    for (const f of found) {
      const h = hex(f.identity)
      const e = byId.get(h)
      if (!f.inScope) {
        if (e !== undefined && e.graph === "none") e.graph = "other"
        else if (e === undefined) otherScopes++
        continue
      }
      if (e !== undefined) e.graph = "scope"
      else byId.set(h, { identity: f.identity, postgres: false, graph: "scope" })
    }
    const relationships = [...byId.values()].sort((a, b) => showIdentity(w, a.identity).localeCompare(showIdentity(w, b.identity)))
    const source = unit.rawSource.keyset.name
    const scope = scopeText(mapped)
    const differences: Array<Difference> = []
    const reached = new Map<string, Identity>()
    for (const r of relationships) {
      const text = showIdentity(w, r.identity)
      if (r.postgres && r.graph === "none") differences.push({ kind: "postgres-only", hop, message: `${text}: in Postgres (source ${source}), not in the graph` })
      if (r.postgres && r.graph === "other") differences.push({ kind: "postgres-only", hop, message: `${text}: in Postgres (source ${source}); in the graph, but not holding ${scope}` })
      if (!r.postgres) differences.push({ kind: "graph-only", hop, message: `${text}: in the graph holding ${scope}, not in Postgres (source ${source} yields no such row)` })
      const parts = splitRelationship(w, r.identity)
      const end = side === "start" ? parts.end : parts.start
      const node = keyed(there, end)
      add(next, there.label, node)
      const nodeMapped = model.nodes.get(there.label)
      if (nodeMapped !== undefined) {
        const key = valuesOf(nodeMapped.unit.write, node)
        reached.set(hex(key), key)
      }
    }
    const nodeMapped = model.nodes.get(there.label)
    let nodes: ReadonlyArray<TracedNode> = []
    if (nodeMapped !== undefined && reached.size > 0) {
      const keys = [...reached.values()]
      const traced = yield* traceNodes(connectors, model, nodeMapped, {
        columns: nodeMapped.unit.write.key.map((k) => k.column),
        tuples: keys,
        graph: keys.map((k) => k.map((v) => [v])),
        expected: keys
      }, hop)
      nodes = traced.nodes
      differences.push(...traced.differences)
    }
    const result: TraceHop = {
      hop,
      type: w.type,
      from: here.label,
      direction: side === "start" ? "out" : "in",
      to: there.label,
      source,
      relationships: relationships.map((r) => {
        const parts = splitRelationship(w, r.identity)
        return { identity: r.identity, start: keyed(w.start, parts.start), end: keyed(w.end, parts.end), key: keyed(w, parts.key), postgres: r.postgres, graph: r.graph }
      }),
      nodes,
      otherScopes,
      incomplete
    }
    return { hop: result, differences }
  })

/**
 * Traces from the start nodes through the pipeline's relationship mappings, each mapping
 * followed once, up to `depth` hops, reading each hop from the mapping's source (its query
 * filtered by the nodes at hand) and from the graph (the relationships at those nodes),
 * and lists every difference.
 */
export const trace = (model: TraceModel, start: TraceStart, depth: number): Effect.Effect<TraceResult, ConnectorFailure, Connectors> =>
  Effect.gen(function*() {
    const connectors = yield* Connectors
    const { node, values } = start
    const key = node.unit.write.key
    const first = yield* traceNodes(connectors, model, node, {
      columns: key.slice(0, values.length).map((k) => k.column),
      tuples: [values],
      graph: [values.map(candidates)],
      expected: []
    }, 0)
    const differences: Array<Difference> = [...first.differences]
    const notes: Array<string> = []
    const hops: Array<TraceHop> = []
    let frontier: Frontier = new Map()
    for (const n of first.nodes) add(frontier, n.label, keyed(node.unit.write, n.key))
    const used = new Set<string>()
    for (let hop = 1; hop <= depth; hop++) {
      const todo = model.relationships.flatMap((m) =>
        used.has(m.unit.unit) ? [] : (["start", "end"] as const).flatMap((side) => (frontier.has(m.unit.write[side].label) ? [{ mapped: m, side }] : [])))
      if (todo.length === 0) break
      for (const t of todo) used.add(t.mapped.unit.unit)
      const next: Frontier = new Map()
      for (const { mapped, side } of todo) {
        const label = mapped.unit.write[side].label
        const all = [...frontier.get(label)!.values()]
        if (all.length > frontierLimit) notes.push(`hop ${hop}: ${mapped.unit.write.type} followed from the first ${frontierLimit} of ${all.length} ${label} nodes`)
        const r = yield* followHop(connectors, model, mapped, side, all.slice(0, frontierLimit), hop, next)
        hops.push(r.hop)
        differences.push(...r.differences)
      }
      frontier = next
    }
    return {
      pipeline: model.pipeline,
      start: { label: node.unit.write.label, key: Object.fromEntries(values.map((v, i) => [key[i]!.property, v])) },
      depth,
      scope: scopeText(node),
      nodes: first.nodes,
      hops,
      differences,
      notes
    }
  })

