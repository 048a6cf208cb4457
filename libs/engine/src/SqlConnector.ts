import type { Effect, Redacted, Scope } from "effect"
import type { ConnectorFailure } from "./ConnectorError.ts"
import type { RunLedger } from "./RunLedger.ts"
import type { QueryRunner, SourceReader } from "./SqlSource.ts"
import type { VectorStore, VectorTarget } from "./VectorStore.ts"

export * from "./SqlSource.ts"
export * from "./VectorStore.ts"

/**
 * A connection to a SQL database in all its roles: source reader, vector store, query
 * runner and run ledger. The engine's modules take the role they need, so a unit's
 * reader never sees the writer's methods.
 */
export interface SqlConnector extends SourceReader, VectorStore, QueryRunner {
  readonly name: string
  /** Identifies the database (system identifier, database oid) and the targets' tables (their oids): a checkpoint is trusted only against the same. */
  readonly fingerprint: (targets: ReadonlyArray<VectorTarget>) => Effect.Effect<string, ConnectorFailure>
  /** The run ledger kept in this database. */
  readonly ledger: RunLedger
}

/** Opens a SQL connector; the scope closes it. */
export type SqlConnectorFactory = (options: {
  readonly name: string
  readonly dsn: Redacted.Redacted<string>
}) => Effect.Effect<SqlConnector, ConnectorFailure, Scope.Scope>
