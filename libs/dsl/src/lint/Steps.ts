import { error, suggest, warning } from "../Diagnostic.ts"
import type { Path } from "../Located.ts"
import { keyColumns } from "../Mapping.ts"
import type { EmbedSpec, RetrySpec } from "../Spec.ts"
import type { Checker } from "./Checker.ts"
import { lintGraph } from "./Graph.ts"
import { describeCycle, stepOrder } from "./Topology.ts"

/** Every step: exactly one kind, its row policy, its `after` references; no cycles among them. */
export const lintSteps = (c: Checker): void => {
  const { spec, out, at } = c
  const stepNames = Object.keys(spec.steps)
  for (const [stepName, step] of Object.entries(spec.steps)) {
    const base: Path = ["steps", stepName]
    const n = (step.embed ? 1 : 0) + (step.graph ? 1 : 0)
    if (n !== 1) out.push(error(at(base, "key"), `step '${stepName}' must have exactly one of embed or graph`))
    if (step.max_rejected !== undefined && step.on_error !== "skip") {
      out.push(warning(at([...base, "max_rejected"], "key"), `max_rejected applies only with on_error: skip; step '${stepName}' fails on the first bad row`))
    }
    for (const [i, a] of (step.after ?? []).entries()) {
      if (!(a in spec.steps)) out.push(error(at([...base, "after", i]), `unknown step '${a}'`, suggest(a, stepNames, "steps")))
      if (a === stepName) out.push(error(at([...base, "after", i]), `step '${stepName}' cannot run after itself`))
    }
    if (step.retry) lintRetry(c, step.retry, [...base, "retry"])
    if (step.embed) lintEmbed(c, step.embed, [...base, "embed"])
    if (step.graph) lintGraph(c, stepName, step.graph, [...base, "graph"])
  }
  if (spec.retry) lintRetry(c, spec.retry, ["retry"])
  if (stepOrder(spec) === null) {
    out.push(error(at(["steps"], "key"), `steps depend on each other in a cycle: ${describeCycle(spec)}`, "remove one of the `after` references"))
  }
}

/** Retries back off from base_ms up to max_ms, so the cap cannot be below the start. */
const lintRetry = (c: Checker, r: RetrySpec, p: Path): void => {
  if (r.base_ms !== undefined && r.max_ms !== undefined && r.max_ms < r.base_ms) {
    c.out.push(error(c.at([...p, "max_ms"]), `retry max_ms (${r.max_ms}) is below base_ms (${r.base_ms}): the delay starts at base_ms and grows up to max_ms`, "raise max_ms or lower base_ms"))
  }
}

/** An embed step: its source yields one id and the text, its model exists and fits the vector column. */
const lintEmbed = (c: Checker, e: EmbedSpec, p: Path): void => {
  const { spec, ctx, out, at } = c
  c.requireSource(e.from, [...p, "from"])
  const source = spec.sources[e.from]
  if (source && e.id === undefined && keyColumns(source.key).length !== 1) {
    out.push(error(at([...p, "from"]), `source '${e.from}' has a composite key; set embed.id to the column that matches into.key`))
  }
  if (e.into.connection !== undefined) c.requireConnection(e.into.connection, "postgres", [...p, "into", "connection"])
  c.requireColumn(e.from, e.text, [...p, "text"], "the text to embed")
  if (e.id !== undefined) c.requireColumn(e.from, e.id, [...p, "id"], "the id matched against into.key")
  const index = e.into.index
  if (index !== undefined) {
    // Each build option belongs to one method; pgvector would refuse the other's at build time, after the vectors are written.
    const foreign = index.method === "hnsw" ? (["lists"] as const) : (["m", "ef_construction"] as const)
    for (const o of foreign) {
      if (index[o] !== undefined) out.push(error(at([...p, "into", "index", o]), `${o} is an option of ${index.method === "hnsw" ? "ivfflat" : "hnsw"} indexes, not ${index.method}`, index.method === "hnsw" ? "hnsw takes m and ef_construction" : "ivfflat takes lists"))
    }
  }
  if (!ctx.models) return
  const model = ctx.models.get(e.model)
  if (!model) out.push(error(at([...p, "model"]), `unknown model '${e.model}'`, suggest(e.model, [...ctx.models.keys()], "models")))
  else if (e.into.dimensions !== undefined && e.into.dimensions !== model.dimensions) {
    out.push(error(at([...p, "into", "dimensions"]), `model '${e.model}' makes ${model.dimensions}-d vectors but ${e.into.table}.${e.into.vector} holds ${e.into.dimensions}-d vectors`, "use a model with matching dimensions or change the column"))
  }
}
