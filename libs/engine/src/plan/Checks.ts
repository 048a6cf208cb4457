import { checkConnection } from "@polymath/dsl"
import type { BoundSpec, CheckSpec, PipelineSpec, ScalarValue } from "@polymath/dsl"
import type { Binder } from "./Sources.ts"
import type { PlannedBound, PlannedCheck, PlannedStep, QueryCheck } from "./Types.ts"

/**
 * Compiles one verify check; lint has given it exactly one kind, a query a connection of
 * its kind, and a store comparison exactly one mapping of its label or type.
 */
export const compileCheck = (spec: PipelineSpec, params: Readonly<Record<string, ScalarValue>>, binder: Binder, steps: ReadonlyArray<PlannedStep>, c: CheckSpec): PlannedCheck => {
  const g = c.graph_matches_source
  if (g !== undefined) {
    for (const step of steps) {
      if (step.kind !== "graph") continue
      const unit = step.units.find((u) => (u.write.kind === "nodes" ? u.write.label === g.node : u.write.type === g.relationship))
      if (unit !== undefined) return { kind: "graph_matches_source", name: c.name, connection: step.connection, scope: step.scope, unit }
    }
    throw new Error(`check '${c.name}': no graph mapping writes ${g.node ?? g.relationship}`)
  }
  const bound = (b: BoundSpec): PlannedBound => (typeof b === "number" ? { value: b } : { sourceCount: binder.source(b.source_count), source: b.source_count })
  const bounds: Array<QueryCheck["bounds"][number]> = []
  for (const op of ["equals", "at_least", "at_most"] as const) {
    const b = c.expect?.[op]
    if (b !== undefined) bounds.push({ op, bound: bound(b) })
  }
  return {
    kind: "query",
    name: c.name,
    connection: checkConnection(spec, c)!,
    query: c.cypher !== undefined ? { kind: "cypher", cypher: c.cypher, params } : { kind: "sql", statement: binder.bind(c.sql!) },
    of: c.expect?.of ?? "value",
    bounds
  }
}
