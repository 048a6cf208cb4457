import type { SearchResult, Value } from "@polymath/engine"
import { table } from "./Render.ts"

/** A cell's text: lists joined, long text cut so one hit stays one line. */
const cell = (v: Value | undefined, width = 60): string => {
  if (v === undefined || v === null) return ""
  const text = Array.isArray(v) ? v.map((x) => cell(x as Value, 1000)).filter((x) => x !== "").join(", ") : v instanceof Date ? v.toISOString() : typeof v === "object" ? JSON.stringify(v) : String(v)
  const flat = text.replace(/\s+/g, " ").trim()
  return flat.length <= width ? flat : `${flat.slice(0, width - 1)}…`
}

/** The expansion's columns, in the order the first expanded hit returns them (`key` is already shown). */
const graphColumns = (result: SearchResult): ReadonlyArray<string> => {
  const first = result.hits.find((h) => h.graph !== null)
  return first === undefined ? [] : Object.keys(first.graph!).filter((c) => c !== "key")
}

/** The hits as a table: rank, similarity (or distance), key, the search's columns, then the graph's. */
export const renderSearch = (result: SearchResult): string => {
  const score = result.metric === "l2" ? "distance" : "similarity"
  const graph = graphColumns(result)
  const columns = result.hits[0] ? Object.keys(result.hits[0].columns) : []
  const header = ["#", score, "key", ...columns, ...graph]
  const rows = result.hits.map((h) => [
    String(h.rank),
    (h.similarity ?? h.distance).toFixed(4),
    cell(h.key, 36),
    ...columns.map((c) => cell(h.columns[c], 34)),
    ...graph.map((c) => cell(h.graph?.[c], 34))
  ])
  const t = result.timings
  const how = result.exact ? "exact scan" : "vector index"
  const lines = [
    `${result.pipeline} / ${result.search}: ${result.hits.length} hits for ${JSON.stringify(result.query)} (${result.model}, ${result.metric}, ${how})`,
    "",
    result.hits.length === 0 ? "  no rows matched" : table(header, rows, new Set([0, 1])),
    "",
    `time: embed ${t.embed_ms} ms, ${t.graph_filter_ms > 0 ? `graph filter ${t.graph_filter_ms} ms, ` : ""}kNN ${t.knn_ms} ms, graph expansion ${t.expand_ms} ms (model load ${t.load_model_ms} ms)`,
    ...result.notes.map((n) => `note: ${n}`)
  ]
  return lines.join("\n")
}

/** JSON of a result: values as JSON can hold them (bigints as strings). */
export const searchJson = (result: SearchResult): string =>
  JSON.stringify(result, (_k, v) => (typeof v === "bigint" ? v.toString() : v), 2)
