import { Effect, Layer } from "effect"
import type { Redacted } from "effect"
import type { SqlClient } from "effect/sql/SqlClient"

/**
 * The database a cluster of workers keeps its state in (runners, shard locks, workflow
 * messages and replies), as Effect's SQL client: Effect Cluster's storage is written
 * against it. The DSN stays redacted; it is the ledger's database unless told otherwise.
 * `@effect/sql-pg` is loaded when the layer is built, so a local run does not load it.
 */
export const clusterStorageLayer = (dsn: Redacted.Redacted<string>): Layer.Layer<SqlClient, unknown> =>
  Layer.unwrap(Effect.promise(() => import("@effect/sql-pg")).pipe(
    Effect.map(({ PgClient }) => PgClient.layer({ url: dsn, applicationName: "polymath-etl:cluster", maxConnections: 8 }))
  ))
