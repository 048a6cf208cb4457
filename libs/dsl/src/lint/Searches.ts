import { error, suggest, warning } from "../Diagnostic.ts"
import type { Path } from "../Located.ts"
import { cypherParams } from "../QueryParams.ts"
import type { PipelineSpec, SearchSpec } from "../Spec.ts"
import type { Checker } from "./Checker.ts"
import { connectionKinds } from "./Topology.ts"

/** The Neo4j connection a search's graph part uses: the declared one, else the pipeline's only one. */
export const searchGraphConnection = (spec: PipelineSpec, search: SearchSpec): string | null => {
  if (search.graph?.connection) return search.graph.connection
  const neo4j = [...connectionKinds(spec)].filter(([, kind]) => kind === "neo4j").map(([name]) => name)
  return neo4j.length === 1 ? neo4j[0]! : null
}

/** The labels graph steps write, for a search's `node`. */
const writtenLabels = (spec: PipelineSpec): Set<string> => {
  const labels = new Set<string>()
  for (const step of Object.values(spec.steps)) {
    for (const node of step.graph?.nodes ?? []) {
      labels.add(node.label)
      const from = node.labels_from
      if (from && typeof from === "object" && from.map) for (const l of Object.values(from.map)) labels.add(l)
    }
  }
  return labels
}

/** Searches: an embed step to search, a graph connection when they expand, `$keys` in the expansion. */
export const lintSearches = (c: Checker): void => {
  const { spec, ctx, out, at } = c
  const embedSteps = Object.keys(spec.steps).filter((n) => spec.steps[n]!.embed !== undefined)
  const labels = writtenLabels(spec)
  for (const [name, search] of Object.entries(spec.searches ?? {})) {
    const p: Path = ["searches", name]
    const step = spec.steps[search.step]
    if (step === undefined) out.push(error(at([...p, "step"]), `unknown step '${search.step}'`, suggest(search.step, embedSteps, "embed steps")))
    else if (step.embed === undefined) out.push(error(at([...p, "step"]), `step '${search.step}' is not an embed step; a search reads the vectors an embed step writes`, embedSteps.length > 0 ? `embed steps: ${embedSteps.join(", ")}` : null))
    const graph = search.graph
    if (graph === undefined) continue
    const conn = searchGraphConnection(spec, search)
    if (conn === null) out.push(error(at([...p, "graph"]), `search '${name}' needs a neo4j connection`, "name one with graph.connection"))
    else c.requireConnection(conn, "neo4j", [...p, "graph", graph.connection ? "connection" : "node"])
    if (labels.size > 0 && !labels.has(graph.node.label)) {
      out.push(warning(at([...p, "graph", "node"]), `no graph step writes :${graph.node.label} nodes`, suggest(graph.node.label, [...labels], "labels")))
    }
    if (graph.node.key.length !== 1) out.push(error(at([...p, "graph", "node"]), "a hit is one key value: name one key property, e.g. Passage(passage_id)"))
    if (graph.expand !== undefined) {
      const used = cypherParams(graph.expand)
      if (!used.includes("keys")) out.push(error(at([...p, "graph", "expand"]), "the expansion must read the hits' keys from $keys", "e.g. MATCH (p:Passage) WHERE p.passage_id IN $keys ... RETURN p.passage_id AS key, ..."))
      for (const param of used) {
        if (param !== "keys" && !(param in ctx.params)) out.push(error(at([...p, "graph", "expand"]), `query uses $${param}, which is not a param`, suggest(param, c.paramNames, "params")))
      }
    }
  }
}
