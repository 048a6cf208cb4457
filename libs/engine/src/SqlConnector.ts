import type { Effect, Scope, Stream } from "effect"
import type { ConnectorFailure } from "./ConnectorError.ts"
import type { RunLedger } from "./RunLedger.ts"
import type { KeyTuple, Page, Row, Value, WriteResult } from "./Rows.ts"

/** A SQL statement with `$1..$n` placeholders and their values; data never enters `text`. */
export interface SqlStatement {
  readonly text: string
  readonly params: ReadonlyArray<Value>
}

/** A source read by keyset pagination on `key` (non-null, unique columns of the statement's result). */
export interface KeysetSource {
  /** The source's name in the pipeline, used in messages. */
  readonly name: string
  readonly statement: SqlStatement
  readonly key: ReadonlyArray<string>
  /** Rows per page. */
  readonly pageSize: number
}

/** Where an embed step writes its vectors. Identifiers are validated by the DSL before they get here. */
export interface VectorTarget {
  /** Table name, optionally schema-qualified (`schema.table`). */
  readonly table: string
  /** The column matched against the source row id. */
  readonly key: string
  /** The pgvector column. */
  readonly vector: string
  /** Constant columns written alongside the vector (e.g. `embedding_model`). */
  readonly set: ReadonlyArray<{ readonly column: string; readonly value: Value }>
  /** Overwrite vectors that are already present; otherwise only NULL vectors are written. */
  readonly force: boolean
}

/** What a vector target looks like in the database. */
export interface VectorTargetInfo {
  /** The declared dimension of the vector column (`vector(384)`), or null when the column is untyped. */
  readonly dimensions: number | null
}

/** One batch of vectors, `ids[i]` paired with `vectors[i]`. */
export interface VectorBatch {
  readonly ids: ReadonlyArray<Value>
  readonly vectors: ReadonlyArray<Float32Array>
}

/** A connection to a SQL database: the engine's only way to read sources, write vectors and run checks. */
export interface SqlConnector {
  readonly name: string
  /** Number of rows the statement returns. */
  readonly count: (statement: SqlStatement) => Effect.Effect<number, ConnectorFailure>
  /** Pages of the source in key order, starting after `after` (null: from the start). */
  readonly pages: (source: KeysetSource, after: KeyTuple | null) => Stream.Stream<Page, ConnectorFailure>
  /** Runs a read-only statement and returns all its rows (for verification queries). */
  readonly query: (statement: SqlStatement) => Effect.Effect<ReadonlyArray<Row>, ConnectorFailure>
  /** Looks up the target table and vector column; fails when either is missing. */
  readonly describeVectorTarget: (target: VectorTarget) => Effect.Effect<VectorTargetInfo, ConnectorFailure>
  /** Writes a batch of vectors in one statement; idempotent unless `target.force`. */
  readonly writeVectors: (target: VectorTarget, batch: VectorBatch) => Effect.Effect<WriteResult, ConnectorFailure>
  /** The run ledger kept in this database. */
  readonly ledger: RunLedger
}

/** Opens a SQL connector; the scope closes it. */
export type SqlConnectorFactory = (options: {
  readonly name: string
  readonly dsn: import("effect").Redacted.Redacted<string>
}) => Effect.Effect<SqlConnector, ConnectorFailure, Scope.Scope>
