import { PgClient } from "@effect/sql-pg"
import { Layer } from "effect"
import type { Redacted } from "effect"
import type { SqlClient } from "effect/sql/SqlClient"

/**
 * The database a cluster of workers keeps its state in (runners, shard locks, workflow
 * messages and replies), as Effect's SQL client: Effect Cluster's storage is written
 * against it. The DSN stays redacted; it is the ledger's database unless told otherwise.
 */
export const clusterStorageLayer = (dsn: Redacted.Redacted<string>): Layer.Layer<SqlClient, unknown> =>
  PgClient.layer({ url: dsn, applicationName: "polymath-etl:cluster", maxConnections: 8 })
