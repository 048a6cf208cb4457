import { Redacted } from "effect"
import type { PipelineSpec } from "@polymath/dsl"
import type { Plan, PlanConnection } from "./Types.ts"

/** Every declared connection, resolved; lint has made each exactly one kind. */
export const declaredConnections = (spec: PipelineSpec): ReadonlyArray<PlanConnection> =>
  Object.entries(spec.connections).flatMap(([name, c]): ReadonlyArray<PlanConnection> => {
    if (c.postgres) return [{ name, kind: "postgres", dsn: c.postgres.dsn }]
    if (!c.neo4j) return []
    const password = c.neo4j.password && Redacted.value(c.neo4j.password) !== "" ? c.neo4j.password : null
    return [{ name, kind: "neo4j", uri: c.neo4j.uri, user: c.neo4j.user ?? null, password, database: c.neo4j.database ?? null }]
  })

/** The names of the connections a plan's ledger, steps and checks use. */
export const connectionsUsedBy = (plan: Pick<Plan, "ledgerConnection" | "steps" | "checks">): ReadonlySet<string> => {
  const used = new Set<string>([plan.ledgerConnection])
  for (const step of plan.steps) {
    if (step.kind === "embed") {
      used.add(step.unit.source.connection)
      used.add(step.unit.targetConnection)
    } else {
      used.add(step.connection)
      for (const u of step.units) used.add(u.source.connection)
    }
  }
  for (const check of plan.checks) {
    used.add(check.connection)
    if (check.kind === "graph_matches_source") used.add(check.unit.source.connection)
    else for (const b of check.bounds) if ("sourceCount" in b.bound) used.add(b.bound.sourceCount.connection)
  }
  return used
}

/** Of `connections`, those the plan uses, in the same order. */
export const usedConnections = (connections: ReadonlyArray<PlanConnection>, plan: Pick<Plan, "ledgerConnection" | "steps" | "checks">): ReadonlyArray<PlanConnection> => {
  const used = connectionsUsedBy(plan)
  return connections.filter((c) => used.has(c.name))
}
