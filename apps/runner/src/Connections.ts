import { Effect, Layer } from "effect"
import type { ConnectorFailure, GraphConnector, Plan, SqlConnector } from "@polymath/engine"
import { Connectors, defaultRetry, withRetry } from "@polymath/engine"
import { makeNeo4jConnector } from "@polymath/neo4j"
import { makePgConnector } from "@polymath/postgres"

/**
 * The open connections a plan names, as a layer: built when a command needs the
 * databases, released (pools drained, drivers closed) when the program ends, fails
 * or is interrupted. Opening one is retried like any step's statement (a server that
 * restarts or drops the first connection is waited for; each retry is logged), and a
 * permanent failure (a wrong password, an unknown database) fails at once.
 */
export const connectorsLayer = (plan: Pick<Plan, "connections">): Layer.Layer<Connectors, ConnectorFailure> =>
  Layer.effect(
    Connectors,
    Effect.gen(function*() {
      const sql = new Map<string, SqlConnector>()
      const graph = new Map<string, GraphConnector>()
      for (const c of plan.connections) {
        if (c.kind === "postgres") sql.set(c.name, yield* withRetry(makePgConnector({ name: c.name, dsn: c.dsn }), defaultRetry, () => Effect.void))
        else {
          const open = makeNeo4jConnector({ name: c.name, uri: c.uri, user: c.user, password: c.password, database: c.database })
          graph.set(c.name, yield* withRetry(open, defaultRetry, () => Effect.void))
        }
      }
      return Connectors.of({ sql, graph })
    })
  )
