import type { Effect } from "effect"
import type { ConnectorFailure } from "./ConnectorError.ts"
import type { Value } from "./Rows.ts"

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
  /** The approximate-nearest-neighbour index the step declares on the vector column, if any. */
  readonly index?: VectorIndex | undefined
}

/** A declared pgvector index: HNSW (`m`, `ef_construction`) or IVFFlat (`lists`), by distance metric. */
export interface VectorIndex {
  readonly method: "hnsw" | "ivfflat"
  readonly metric: "cosine" | "l2" | "inner_product"
  /** Build parameters as pgvector names them (`m`, `ef_construction`, `lists`); absent ones take pgvector's defaults. */
  readonly options: ReadonlyArray<{ readonly name: string; readonly value: number }>
}

/** What the database holds where a declared index should be. */
export interface VectorIndexState {
  /** The index's name (derived from table, column, method and metric). */
  readonly name: string
  /** `missing`: none; `valid`: as declared; `invalid`: a failed concurrent build left it unusable; `different`: another definition under that name. */
  readonly state: "missing" | "valid" | "invalid" | "different"
  /** The definition found, when there is one (`pg_get_indexdef`). */
  readonly definition: string | null
}

/** What a vector target looks like in the database. */
export interface VectorTargetInfo {
  /** The declared dimension of the vector column (`vector(384)`), or null when the column is untyped. */
  readonly dimensions: number | null
}

/**
 * What the embed state says about one source row, against the target row and the
 * content hash recorded when its vector was written (kept in the ledger schema, never
 * in the user's table):
 * - `missing`: the target table has no row with this id
 * - `new`: the row has no vector
 * - `stale`: it has a vector, but not one made from this text with this model (or none we recorded)
 * - `fresh`: its vector was made from exactly this text with this model
 */
export type EmbedStatus = "missing" | "new" | "stale" | "fresh"

/** One batch of vectors to write, `ids[i]` paired with `vectors[i]` and the content hash `hashes[i]`. */
export interface VectorBatch {
  readonly ids: ReadonlyArray<Value>
  readonly vectors: ReadonlyArray<Float32Array>
  readonly hashes: ReadonlyArray<Uint8Array>
  readonly model: string
  readonly runId: string
}

/** The vector-sink role of a SQL connection: where embed steps write, with their embed state. */
export interface VectorStore {
  /** Looks up the target table and vector column; fails when either is missing. */
  readonly describeVectorTarget: (target: VectorTarget) => Effect.Effect<VectorTargetInfo, ConnectorFailure>
  /** The embed status of each id given its content hash and model, in order (see `EmbedStatus`). */
  readonly embedStatus: (target: VectorTarget, model: string, items: ReadonlyArray<{ readonly id: Value; readonly hash: Uint8Array }>) => Effect.Effect<ReadonlyArray<EmbedStatus>, ConnectorFailure>
  /** Writes a batch of vectors and their content hashes in one statement; returns how many target rows it updated. */
  readonly writeVectors: (target: VectorTarget, batch: VectorBatch) => Effect.Effect<number, ConnectorFailure>
  /**
   * Removes the vectors (and their recorded content hashes) of the given ids, for rows that
   * no longer have a text to embed; returns the positions in `ids` whose vector was removed.
   */
  readonly clearVectors: (target: VectorTarget, ids: ReadonlyArray<Value>) => Effect.Effect<ReadonlyArray<number>, ConnectorFailure>
  /** The state of the target's declared index (the target must declare one). */
  readonly vectorIndex: (target: VectorTarget) => Effect.Effect<VectorIndexState, ConnectorFailure>
  /**
   * Creates the declared index unless it exists as declared, without blocking writers
   * (CREATE INDEX CONCURRENTLY); an invalid leftover is rebuilt; another definition under
   * its name fails. Returns whether it built one.
   */
  readonly ensureVectorIndex: (target: VectorTarget) => Effect.Effect<{ readonly name: string; readonly created: boolean }, ConnectorFailure>
  /** The `k` rows nearest to a query vector (see `NearestRequest`), nearest first, in a read-only transaction. */
  readonly nearest: (request: NearestRequest) => Effect.Effect<ReadonlyArray<NearestRow>, ConnectorFailure>
}

/**
 * A k-nearest-neighbour query over the rows of a vector target that its step wrote (those
 * holding its `set` constants: a vector another model made is not comparable). Without keys
 * and without `exact`, it may use the declared index (approximate, fast; filters through
 * pgvector's iterative index scan); with keys or `exact`, an exact scan of the rows that pass.
 */
export interface NearestRequest {
  readonly target: VectorTarget
  readonly metric: "cosine" | "l2" | "inner_product"
  readonly vector: Float32Array
  readonly k: number
  /** Columns of the target table returned with each row. */
  readonly columns: ReadonlyArray<string>
  /** Equality filters on columns of the target table, compared as text. */
  readonly filters: ReadonlyArray<{ readonly column: string; readonly value: string }>
  /** Only rows whose key (as text) is one of these; null: every row. */
  readonly keys: ReadonlyArray<string> | null
  readonly exact: boolean
}

/** One row of a kNN answer: its key as text, its pgvector distance (by the request's metric) and the requested columns. */
export interface NearestRow {
  readonly key: string
  readonly distance: number
  readonly columns: Readonly<Record<string, Value>>
}
