import type { CheckSpec, PipelineSpec } from "../Spec.ts"

/*
 * How the parts of a pipeline refer to each other: connection kinds, the defaults
 * that pick a connection, and step order. Lint checks them; the plan follows them.
 */

/** Kind of each connection, by name. */
export const connectionKinds = (spec: PipelineSpec): ReadonlyMap<string, "postgres" | "neo4j"> => {
  const kinds = new Map<string, "postgres" | "neo4j">()
  for (const [name, c] of Object.entries(spec.connections)) {
    if (c.postgres && !c.neo4j) kinds.set(name, "postgres")
    if (c.neo4j && !c.postgres) kinds.set(name, "neo4j")
  }
  return kinds
}

/** The connection that holds the run ledger: `ledger.connection`, else the first postgres connection. */
export const ledgerConnection = (spec: PipelineSpec): string | null => {
  if (spec.ledger) return spec.ledger.connection
  for (const [name, kind] of connectionKinds(spec)) if (kind === "postgres") return name
  return null
}

/** The connection a verify check runs on: its own, else the first of the right kind. */
export const checkConnection = (spec: PipelineSpec, check: CheckSpec): string | null => {
  if (check.connection) return check.connection
  const want = check.cypher !== undefined ? "neo4j" : "postgres"
  for (const [name, kind] of connectionKinds(spec)) if (kind === want) return name
  return null
}

/** Steps in an order that respects `after` (declaration order otherwise); null when there is a cycle. */
export const stepOrder = (spec: PipelineSpec): ReadonlyArray<string> | null => {
  const names = Object.keys(spec.steps)
  const done = new Set<string>()
  const order: Array<string> = []
  while (order.length < names.length) {
    const next = names.find((n) => !done.has(n) && (spec.steps[n]!.after ?? []).every((a) => done.has(a) || !(a in spec.steps)))
    if (next === undefined) return null
    done.add(next)
    order.push(next)
  }
  return order
}

/** One cycle among the steps' `after` references, as `a -> b -> a`. */
export const describeCycle = (spec: PipelineSpec): string => {
  const names = Object.keys(spec.steps)
  for (const start of names) {
    const path: Array<string> = [start]
    const visit = (n: string): boolean => {
      for (const a of spec.steps[n]?.after ?? []) {
        if (a === start) {
          path.push(a)
          return true
        }
        if (path.includes(a) || !(a in spec.steps)) continue
        path.push(a)
        if (visit(a)) return true
        path.pop()
      }
      return false
    }
    if (visit(start)) return path.reverse().join(" -> ")
  }
  return names.join(", ")
}
