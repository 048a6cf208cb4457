import { Effect } from "effect"
import type { ConnectorFailure } from "../ConnectorError.ts"
import type { Connectors } from "../Connectors.ts"
import type { Identity } from "../GraphConnector.ts"
import { contentHash, identityHash } from "../Identity.ts"
import type { NodeUnit } from "../Plan.ts"
import type { Value } from "../Rows.ts"
import { badText } from "../run/EmbedWork.ts"
import { graphOf, sqlOf } from "../run/Support.ts"
import type { EmbedStatus } from "../VectorStore.ts"
import { showNode } from "./Describe.ts"
import { embedOf } from "./Model.ts"
import type { Mapped, TraceModel } from "./Model.ts"
import type { Difference, TracedNode, VectorState } from "./Types.ts"

export const hex = (id: Identity): string => Buffer.from(identityHash(id)).toString("hex")

export const scopeText = (m: Mapped<unknown>): string => `${m.scope.property}=${String(m.scope.value)}`

/** How to look nodes up: Postgres by some key columns equal to tuples, the graph by candidate values per key position. */
export interface NodeLookup {
  readonly columns: ReadonlyArray<string>
  readonly tuples: ReadonlyArray<ReadonlyArray<Value>>
  readonly graph: ReadonlyArray<ReadonlyArray<ReadonlyArray<Value>>>
  /** Nodes that must be listed even when neither store has them (the ends of relationships). */
  readonly expected: ReadonlyArray<Identity>
}

const vectorOf: Record<EmbedStatus, VectorState> = { fresh: "ok", stale: "stale", new: "no vector", missing: "no row" }

/** The vector state of each node the node source yields, when an embed step embeds their rows. */
const vectorStates = (connectors: Connectors["Service"], model: TraceModel, unit: NodeUnit, ids: ReadonlyArray<Identity>) =>
  Effect.gen(function*() {
    const states = new Map<string, VectorState>()
    const embed = embedOf(model, unit)
    if (embed === null || ids.length === 0) return { states, embed }
    const rows = yield* sqlOf(connectors, embed.source.connection).rowsMatching(embed.source.keyset.statement, [embed.idColumn], ids.map((id) => [id[0]!]))
    // A row without a usable text is rejected by the run and listed there; it has no vector to check.
    const items = rows.flatMap((r) => (badText(r[embed.textColumn], embed.textColumn) === null ? [{ id: r[embed.idColumn]!, hash: contentHash(embed.model, r[embed.textColumn] as string) }] : []))
    const statuses = items.length === 0 ? [] : yield* sqlOf(connectors, embed.targetConnection).embedStatus(embed.target, embed.model, items)
    for (const [i, item] of items.entries()) states.set(hex([item.id]), vectorOf[statuses[i]!])
    return { states, embed }
  })

/**
 * The nodes of a mapping found by `lookup` in its source and in the graph, side by side, and
 * the differences: a node one store holds and the other does not, an end of a relationship
 * neither holds, a row of an embedded source without its vector.
 */
export const traceNodes = (connectors: Connectors["Service"], model: TraceModel, mapped: Mapped<NodeUnit>, lookup: NodeLookup, hop: number): Effect.Effect<{ readonly nodes: ReadonlyArray<TracedNode>; readonly differences: ReadonlyArray<Difference> }, ConnectorFailure> =>
  Effect.gen(function*() {
    const { unit } = mapped
    const label = unit.write.label
    const keyColumns = unit.write.key.map((k) => k.column)
    const rows = yield* sqlOf(connectors, unit.rawSource.connection).rowsMatching(unit.rawSource.keyset.statement, lookup.columns, lookup.tuples)
    const found = yield* graphOf(connectors, mapped.connection).findNodes(unit.write, mapped.scope, lookup.graph)
    const byId = new Map<string, { key: Identity; postgres: boolean; graph: TracedNode["graph"] }>()
    const entry = (key: Identity) => {
      const h = hex(key)
      if (!byId.has(h)) byId.set(h, { key, postgres: false, graph: "none" })
      return byId.get(h)!
    }
    for (const row of rows) {
      const key = keyColumns.map((c) => row[c] ?? null)
      if (!key.some((v) => v === null)) entry(key).postgres = true
    }
    for (const f of found) {
      const e = entry(f.identity)
      if (f.inScope || e.graph === "none") e.graph = f.inScope ? "scope" : "other"
    }
    for (const key of lookup.expected) entry(key)
    const all = [...byId.values()].sort((a, b) => showNode(label, a.key).localeCompare(showNode(label, b.key)))
    const { states, embed } = yield* vectorStates(connectors, model, unit, all.filter((n) => n.postgres).map((n) => n.key))
    const source = unit.rawSource.keyset.name
    const scope = scopeText(mapped)
    const differences: Array<Difference> = []
    const nodes = all.map((n): TracedNode => {
      const node = showNode(label, n.key)
      const vector = states.get(hex(n.key)) ?? "n/a"
      if (n.postgres && n.graph === "none") {
        differences.push(hop === 0
          ? { kind: "postgres-only", hop, message: `${node}: in Postgres (source ${source}), not in the graph` }
          : { kind: "endpoint-missing", hop, message: `${node}: an end of the relationships above, missing from the graph (source ${source} yields it)` })
      } else if (n.postgres && n.graph === "other") {
        differences.push({ kind: "postgres-only", hop, message: `${node}: in Postgres (source ${source}); in the graph, but not holding ${scope}` })
      } else if (!n.postgres && n.graph === "scope") {
        differences.push({ kind: "graph-only", hop, message: `${node}: in the graph holding ${scope}, not in Postgres (source ${source} yields no such row)` })
      } else if (!n.postgres && n.graph === "none") {
        differences.push({ kind: "endpoint-missing", hop, message: `${node}: an end of the relationships above, in neither the graph nor source ${source}` })
      }
      if (embed !== null && vector !== "ok" && vector !== "n/a") {
        const where = `${embed.target.table}.${embed.target.vector}`
        const why = vector === "no vector" ? `no vector (${where} IS NULL)` : vector === "no row" ? `no row in ${embed.target.table} to hold its vector` : `its vector (${where}) was not made from its current text with ${embed.model}`
        differences.push({ kind: "vector", hop, message: `${node}: ${why}` })
      }
      const properties = Object.fromEntries(unit.write.key.map((k, i) => [k.property, n.key[i] ?? null]))
      return { label, key: n.key, properties, postgres: n.postgres, graph: n.graph, vector }
    })
    return { nodes, differences }
  })
