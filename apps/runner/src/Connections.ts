import { Effect, Redacted } from "effect"
import type { Scope } from "effect"
import type { PipelineSpec } from "@polymath/dsl"
import type { ConnectorFailure, GraphConnector, SqlConnector } from "@polymath/engine"
import { Connectors } from "@polymath/engine"
import { makeNeo4jConnector } from "@polymath/neo4j"
import { makePgConnector } from "@polymath/postgres"

/**
 * Opens every connection the pipeline declares, in the caller's scope, so that
 * success, failure and interruption all close the pools and drivers.
 */
export const openConnections = (spec: PipelineSpec): Effect.Effect<Connectors["Service"], ConnectorFailure, Scope.Scope> =>
  Effect.gen(function*() {
    const sql = new Map<string, SqlConnector>()
    const graph = new Map<string, GraphConnector>()
    for (const [name, c] of Object.entries(spec.connections)) {
      if (c.postgres) sql.set(name, yield* makePgConnector({ name, dsn: c.postgres.dsn }))
      if (c.neo4j) {
        const password = c.neo4j.password && Redacted.value(c.neo4j.password) !== "" ? c.neo4j.password : null
        graph.set(name, yield* makeNeo4jConnector({ name, uri: c.neo4j.uri, user: c.neo4j.user ?? null, password, database: c.neo4j.database ?? null }))
      }
    }
    return Connectors.of({ sql, graph })
  })
