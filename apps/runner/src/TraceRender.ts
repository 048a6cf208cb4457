import { showValue } from "@polymath/engine"
import type { Presence, TracedNode, TraceHop, TraceResult, Value } from "@polymath/engine"

/** Columns padded to their widest cell; the last one is not padded. */
const table = (rows: ReadonlyArray<ReadonlyArray<string>>, indent = "  "): Array<string> => {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)))
  return rows.map((r) => indent + r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd())
}

const plural = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? "" : "s"}`

const values = (m: Readonly<Record<string, Value>>): string => Object.values(m).map(showValue).join(", ")

const status = (p: Presence): string => {
  if (p.postgres && p.graph === "scope") return "ok"
  if (p.postgres && p.graph === "other") return "DIFF: in Postgres; in the graph under another lineage only"
  if (p.postgres) return "DIFF: in Postgres, not in the graph"
  if (p.graph === "scope") return "DIFF: in the graph, not in Postgres"
  return p.graph === "other" ? "another lineage only" : "DIFF: in neither store"
}

const graphCell = (p: Presence, what: string): string => (p.graph === "scope" ? what : p.graph === "other" ? "other lineage" : "-")

const nodeStatus = (n: TracedNode): string => {
  const s = status(n)
  if (n.vector === "ok" || n.vector === "n/a") return s
  const v = `DIFF: ${n.vector === "stale" ? "stale vector" : n.vector}`
  return s === "ok" ? v : `${s}; ${v}`
}

const nodeTable = (title: string, nodes: ReadonlyArray<TracedNode>): Array<string> => {
  if (nodes.length === 0) return [`  ${title}: none in either store`]
  const first = nodes[0]!
  const withVector = nodes.some((n) => n.vector !== "n/a")
  const header = [`${first.label} (${Object.keys(first.properties).join(", ")})`, "Postgres", "Neo4j", ...(withVector ? ["vector"] : []), "status"]
  return [
    `  ${title}`,
    ...table([header, ...nodes.map((n) => [values(n.properties), n.postgres ? "row" : "-", graphCell(n, "node"), ...(withVector ? [n.vector] : []), nodeStatus(n)])], "    ")
  ]
}

const hopLines = (h: TraceHop): Array<string> => {
  const arrow = h.direction === "out" ? `-[${h.type}]->` : `<-[${h.type}]-`
  const lines = [``, `hop ${h.hop}: ${h.from} ${arrow} ${h.to}  (source ${h.source})`]
  if (h.relationships.length === 0) lines.push(`  no ${h.type} relationships in either store`)
  else {
    const r0 = h.relationships[0]!
    const here = h.direction === "out" ? "start" : "end"
    const there = h.direction === "out" ? "end" : "start"
    const keyNames = Object.keys(r0.key)
    const header = [`${h.from} (${Object.keys(r0[here]).join(", ")})`, `${h.to} (${Object.keys(r0[there]).join(", ")})`, ...(keyNames.length > 0 ? [keyNames.join(", ")] : []), "Postgres", "Neo4j", "status"]
    const rows = h.relationships.map((r) => [values(r[here]), values(r[there]), ...(keyNames.length > 0 ? [values(r.key)] : []), r.postgres ? "row" : "-", graphCell(r, "rel"), status(r)])
    lines.push(...table([header, ...rows]))
  }
  if (h.otherScopes > 0) lines.push(`  (${h.otherScopes} ${h.type} relationships at these nodes belong to other lineages only: not compared)`)
  if (h.incomplete > 0) lines.push(`  (${h.incomplete} rows of ${h.source} have a NULL identity column: no relationship is made of them, not compared)`)
  if (h.nodes.length > 0) lines.push(...nodeTable(`${h.to} nodes at the other ends:`, h.nodes))
  return lines
}

/** A trace as side-by-side tables, hop by hop, then every difference. */
export const renderTrace = (t: TraceResult): string => {
  const start = Object.entries(t.start.key).map(([k, v]) => `${k}=${v}`).join(", ")
  const lines = [`trace ${t.pipeline}: ${t.start.label} ${start}  (lineage ${t.scope}, depth ${t.depth})`, ""]
  lines.push(...nodeTable(`${t.start.label} nodes matching ${start}:`, t.nodes))
  for (const h of t.hops) lines.push(...hopLines(h))
  for (const n of t.notes) lines.push(`note: ${n}`)
  lines.push("")
  const nodes = t.nodes.length + t.hops.reduce((s, h) => s + h.nodes.length, 0)
  const relationships = t.hops.reduce((s, h) => s + h.relationships.length, 0)
  if (t.differences.length === 0) lines.push(`the stores agree: ${plural(nodes, "node")} and ${plural(relationships, "relationship")} compared, no differences`)
  else {
    lines.push(`differences: ${t.differences.length}`)
    for (const d of t.differences) lines.push(`  - ${d.hop === 0 ? "start" : `hop ${d.hop}`}: ${d.message}`)
  }
  return lines.join("\n")
}

/** The trace as JSON: integers beyond 2^53 as strings, everything else as is. */
export const traceJson = (t: TraceResult): string =>
  JSON.stringify({ ...t, agree: t.differences.length === 0 }, (_k, v: unknown) => (typeof v === "bigint" ? (Number.isSafeInteger(Number(v)) ? Number(v) : v.toString()) : v), 2)
