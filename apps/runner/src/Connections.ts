import { Effect, Layer } from "effect"
import type { ConnectorFailure, GraphConnector, Plan, SqlConnector } from "@polymath/engine"
import { Connectors } from "@polymath/engine"
import { makeNeo4jConnector } from "@polymath/neo4j"
import { makePgConnector } from "@polymath/postgres"

/**
 * The open connections a plan names, as a layer: built when a command needs the
 * databases, released (pools drained, drivers closed) when the program ends, fails
 * or is interrupted.
 */
export const connectorsLayer = (plan: Pick<Plan, "connections">): Layer.Layer<Connectors, ConnectorFailure> =>
  Layer.effect(
    Connectors,
    Effect.gen(function*() {
      const sql = new Map<string, SqlConnector>()
      const graph = new Map<string, GraphConnector>()
      for (const c of plan.connections) {
        if (c.kind === "postgres") sql.set(c.name, yield* makePgConnector({ name: c.name, dsn: c.dsn }))
        else graph.set(c.name, yield* makeNeo4jConnector({ name: c.name, uri: c.uri, user: c.user, password: c.password, database: c.database }))
      }
      return Connectors.of({ sql, graph })
    })
  )
