import { Duration, Effect } from "effect"
import type { Scope } from "effect"
import type { ConnectorFailure } from "../ConnectorError.ts"
import { Connectors, Embedders } from "../Connectors.ts"
import type { Embedder } from "../Embedder.ts"
import type { GraphHop } from "../GraphConnector.ts"
import type { Row, Value } from "../Rows.ts"
import { SearchError } from "./SearchPlan.ts"
import type { SearchPlan } from "./SearchPlan.ts"
import { parseFilter, parseVia } from "./Via.ts"

export interface SearchRequest {
  readonly query: string
  /** Hits wanted; null: the search's `k`. */
  readonly k: number | null
  /** `column=value` filters. */
  readonly filters: ReadonlyArray<string>
  /** `TYPE:Label[:property=value]` hops each hit's node must have. */
  readonly via: ReadonlyArray<string>
  /** Scan every vector instead of asking the index (the index's answer is approximate). */
  readonly exact: boolean
}

export interface SearchHit {
  readonly rank: number
  readonly key: string
  /** pgvector's distance by the search's metric (smaller is nearer). */
  readonly distance: number
  /** Cosine similarity (1 - distance) or inner product; null for L2. */
  readonly similarity: number | null
  readonly columns: Row
  /** The expansion's row for this hit; null when the search has none or the graph has no such node. */
  readonly graph: Row | null
}

/** Milliseconds spent in each stage of one search. */
export interface SearchTimings {
  readonly load_model_ms: number
  readonly embed_ms: number
  readonly graph_filter_ms: number
  readonly knn_ms: number
  readonly expand_ms: number
}

export interface SearchResult {
  readonly pipeline: string
  readonly search: string
  readonly query: string
  readonly model: string
  readonly metric: SearchPlan["metric"]
  readonly k: number
  readonly exact: boolean
  /** With `--via`: how many nodes have every hop (the candidates the kNN was limited to). */
  readonly candidates: number | null
  readonly hits: ReadonlyArray<SearchHit>
  readonly timings: SearchTimings
  /** Things the user should know about this answer (a hit without its graph node, ...). */
  readonly notes: ReadonlyArray<string>
}

const ms = (d: Duration.Duration) => Math.round(Duration.toMillis(d) * 10) / 10

const similarityOf = (metric: SearchPlan["metric"], distance: number): number | null =>
  metric === "cosine" ? 1 - distance : metric === "inner_product" ? -distance : null

/** Parses every `--filter` and `--via` first, so a typo fails before a model loads or a store is asked. */
const parseRequest = (plan: SearchPlan, request: SearchRequest) =>
  Effect.gen(function*() {
    const filters: Array<{ column: string; value: string }> = []
    for (const f of request.filters) {
      const parsed = parseFilter(f, plan.filters)
      if (parsed instanceof SearchError) return yield* parsed
      filters.push(parsed)
    }
    const hops: Array<GraphHop> = []
    for (const v of request.via) {
      const parsed = parseVia(v)
      if (parsed instanceof SearchError) return yield* parsed
      hops.push(parsed)
    }
    if (hops.length > 0 && plan.graph === null) {
      return yield* new SearchError({ message: `search '${plan.name}' has no graph node, so --via cannot be used`, hint: "declare graph: { node: Label(key_property) } on the search" })
    }
    if (request.query.trim() === "") return yield* new SearchError({ message: "the query text is empty", hint: null })
    return { filters, hops }
  })

/**
 * One search: embed the query (with the model's query prefix), limit the candidates to
 * the nodes that have every `--via` hop (one graph read), find the k nearest rows, and
 * expand the hits through the graph in one more read. Each stage is timed.
 */
export const runSearch = (plan: SearchPlan, request: SearchRequest, loaded?: Embedder): Effect.Effect<SearchResult, ConnectorFailure | SearchError, Connectors | Embedders | Scope.Scope> =>
  Effect.gen(function*() {
    const { filters, hops } = yield* parseRequest(plan, request)
    const connectors = yield* Connectors
    const store = connectors.sql.get(plan.targetConnection)!
    const graph = plan.graph === null ? null : connectors.graph.get(plan.graph.connection)!
    const k = request.k ?? plan.k
    const factory = yield* Embedders
    // A long-lived caller (a benchmark, a server) passes its loaded model: a warm query.
    const [loadTime, embedder] = loaded === undefined ? yield* Effect.timed(factory.load(plan.model)) : [Duration.zero, loaded]
    const [embedTime, vectors] = yield* Effect.timed(embedder.embedQueries([request.query]))
    let filterTime = Duration.zero
    let keys: ReadonlyArray<string> | null = null
    if (hops.length > 0 && graph !== null && plan.graph !== null) {
      const [t, related] = yield* Effect.timed(graph.relatedKeys({ label: plan.graph.label, key: plan.graph.keyProperty }, hops))
      filterTime = t
      keys = related
    }
    const [knnTime, rows] = keys !== null && keys.length === 0
      ? [Duration.zero, []]
      : yield* Effect.timed(store.nearest({ target: plan.target, metric: plan.metric, vector: vectors[0]!, k, columns: plan.columns, filters, keys, exact: request.exact }))
    let expandTime = Duration.zero
    const expanded = new Map<string, Row>()
    const notes: Array<string> = []
    if (graph !== null && plan.graph?.expand && rows.length > 0) {
      const params: Record<string, Value> = { ...plan.params, keys: rows.map((r) => r.key) }
      const [t, found] = yield* Effect.timed(graph.query(plan.graph.expand, params))
      expandTime = t
      for (const row of found) {
        const key = row["key"]
        if (key !== undefined && key !== null && !expanded.has(String(key))) expanded.set(String(key), row)
      }
      const missing = rows.filter((r) => !expanded.has(r.key)).length
      if (missing > 0) notes.push(`${missing} of ${rows.length} hits have no :${plan.graph.label} node in the graph (is the graph step run?)`)
    }
    if (keys !== null) notes.push(`${keys.length} :${plan.graph!.label} nodes have ${request.via.join(" and ")}; the nearest of them were searched exactly`)
    return {
      pipeline: plan.pipeline,
      search: plan.name,
      query: request.query,
      model: plan.model,
      metric: plan.metric,
      k,
      exact: request.exact || keys !== null,
      candidates: keys === null ? null : keys.length,
      hits: rows.map((r, i) => ({
        rank: i + 1,
        key: r.key,
        distance: r.distance,
        similarity: similarityOf(plan.metric, r.distance),
        columns: r.columns,
        graph: expanded.get(r.key) ?? null
      })),
      timings: { load_model_ms: ms(loadTime), embed_ms: ms(embedTime), graph_filter_ms: ms(filterTime), knn_ms: ms(knnTime), expand_ms: ms(expandTime) },
      notes
    }
  })
