import { checkConnection } from "@polymath/dsl"
import type { BoundSpec, CheckSpec, PipelineSpec, ScalarValue } from "@polymath/dsl"
import type { Binder } from "./Sources.ts"
import type { PlannedBound, PlannedCheck } from "./Types.ts"

/** Compiles one verify check; lint has given it exactly one query and a connection of its kind. */
export const compileCheck = (spec: PipelineSpec, params: Readonly<Record<string, ScalarValue>>, binder: Binder, c: CheckSpec): PlannedCheck => {
  const bound = (b: BoundSpec): PlannedBound => (typeof b === "number" ? { value: b } : { sourceCount: binder.source(b.source_count), source: b.source_count })
  const bounds: Array<PlannedCheck["bounds"][number]> = []
  for (const op of ["equals", "at_least", "at_most"] as const) {
    const b = c.expect[op]
    if (b !== undefined) bounds.push({ op, bound: bound(b) })
  }
  return {
    name: c.name,
    connection: checkConnection(spec, c)!,
    query: c.cypher !== undefined ? { kind: "cypher", cypher: c.cypher, params } : { kind: "sql", statement: binder.bind(c.sql!) },
    of: c.expect.of ?? "value",
    bounds
  }
}
