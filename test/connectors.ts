/**
 * The engine's Connectors layer built from the plan's real Postgres and Neo4j connectors, for
 * tests that drive the interpreter in-process. `wrap` may replace a connector with one that passes
 * through the real one (to inject a fault around it): no connector is ever a mock.
 */
import { Data, Effect, Layer } from "effect"
import { Connectors } from "@polymath/engine"
import type { FailureReason, GraphConnector, Plan, SqlConnector } from "@polymath/engine"
import { makeNeo4jConnector } from "@polymath/neo4j"
import { makePgConnector } from "@polymath/postgres"

/** A failure a test injects around a real connector; retryable as its reason says. */
export class InjectedFault extends Data.TaggedError("InjectedFault")<{ readonly reason: FailureReason; readonly message: string }> {
  get isRetryable(): boolean {
    return this.reason.isRetryable
  }
}

export interface RealConnectors {
  readonly sql: Map<string, SqlConnector>
  readonly graph: Map<string, GraphConnector>
}

export const realConnectorsLayer = (plan: Plan, wrap: (connectors: RealConnectors) => void = () => {}) =>
  Layer.effect(Connectors, Effect.gen(function*() {
    const connectors: RealConnectors = { sql: new Map(), graph: new Map() }
    for (const c of plan.connections) {
      if (c.kind === "postgres") connectors.sql.set(c.name, yield* makePgConnector({ name: c.name, dsn: c.dsn }))
      else connectors.graph.set(c.name, yield* makeNeo4jConnector({ name: c.name, uri: c.uri, user: c.user, password: c.password, database: c.database }))
    }
    wrap(connectors)
    return Connectors.of(connectors)
  }))
