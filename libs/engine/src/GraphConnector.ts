import type { Effect, Redacted, Scope, Stream } from "effect"
import type { ConnectorFailure } from "./ConnectorError.ts"
import type { Rejection, Row, Value } from "./Rows.ts"

/** A graph property filled from a source column. Names are validated identifiers. */
export interface PropertyMapping {
  readonly property: string
  readonly column: string
}

/** An extra label taken from a column value, e.g. `type: method` adds `:Method`. */
export interface LabelFromColumn {
  readonly column: string
  /** value -> label; when absent the value is capitalised. Either way the label must be a valid identifier. */
  readonly map: Readonly<Record<string, string>> | null
}

/** Nodes MERGEd on `key` with `properties` SET. */
export interface NodeWrite {
  readonly kind: "nodes"
  readonly label: string
  readonly key: ReadonlyArray<PropertyMapping>
  readonly properties: ReadonlyArray<PropertyMapping>
  readonly labelFrom: LabelFromColumn | null
}

/** A relationship endpoint, MATCHed by its node key. */
export interface EndpointRef {
  readonly label: string
  readonly key: ReadonlyArray<PropertyMapping>
}

/**
 * Relationships MERGEd between MATCHed endpoints. Identity is (type, start, end, `key`):
 * `MERGE (a)-[r:T {k: row.k}]->(b)`, so one pair of nodes may hold one relationship per
 * distinct `key` value (one MENTIONS per extractor version, one ACTED_IN per role).
 */
export interface RelationshipWrite {
  readonly kind: "relationships"
  readonly type: string
  readonly start: EndpointRef
  readonly end: EndpointRef
  readonly key: ReadonlyArray<PropertyMapping>
  readonly properties: ReadonlyArray<PropertyMapping>
}

export type GraphWrite = NodeWrite | RelationshipWrite

/**
 * The scope a graph step writes in: `property` holds a set (a list) of scope values on
 * every node and relationship the step writes, e.g. `extractor_versions: [batch-v1, batch-v2]`.
 * A write adds `value`; mirroring removes it; an entity no scope holds any more is deleted.
 */
export interface SyncScope {
  readonly property: string
  readonly value: string | number | boolean
}

/** What every write stamps besides the scope: `run_id` and `synced_at`, only on entities it creates or changes. */
export interface Stamp {
  readonly scope: SyncScope
  readonly runId: string
}

/** The property names of the stamp. */
export const stampProperties = { runId: "run_id", syncedAt: "synced_at" } as const

/**
 * Outcome of one batch. Every row of the batch is exactly one of created / updated /
 * unchanged / rejected. `rolledBack` is set when `atomic` was asked for and some row was
 * rejected: then nothing of the batch was written and the counts are zero.
 */
export interface GraphWriteResult {
  readonly created: number
  readonly updated: number
  readonly unchanged: number
  readonly rejected: ReadonlyArray<Rejection>
  readonly rolledBack: boolean
  /** Set when the batch was written as an initial load (CREATE, checked); see `GraphWriteOptions.initialLoad`. */
  readonly initialLoad?: boolean
}

/** Options of a batch write. */
export interface GraphWriteOptions {
  /** All or nothing: roll the batch back when any row is rejected (the `on_error: fail` policy). */
  readonly atomic: boolean
  /**
   * Relationships only: the graph held no relationship of the type when the caller's pass began,
   * and holds `held` now, all created by the pass's earlier batches (`run/InitialLoad.ts`). The
   * connector may then CREATE instead of MERGE, and checks in the same transaction that the graph
   * holds exactly `held` plus what it created: anything else (another writer of the type) rolls the
   * CREATE back and the batch is MERGEd. It MERGEs where a row could match several endpoints, and on
   * a retried attempt, whose earlier attempt may have committed. `GraphWriteResult.initialLoad`
   * tells which it did.
   */
  readonly initialLoad?: { readonly held: number }
}

/**
 * The identity values of one entity, in order: for a node its key properties; for a
 * relationship its start key, end key and `key` properties. Values are as a source row
 * would carry them (integers as bigint or number, temporals as Date).
 */
export type Identity = ReadonlyArray<Value>

/** What removing a scope from some entities did. */
export interface UnscopeResult {
  /** Entities deleted because no scope holds them any more. */
  readonly deleted: number
  /** Entities that lost this scope but are kept (another scope holds them, or a node still has relationships). */
  readonly unscoped: number
}

/** A Neo4j vector index on `label.property`. */
export interface GraphVectorIndex {
  readonly label: string
  readonly property: string
  readonly dimensions: number
  readonly similarity: "cosine" | "euclidean"
}

/** An entity `trace` found in the graph: its identity and whether it holds the scope it was asked about. */
export interface FoundEntity {
  readonly identity: Identity
  readonly inScope: boolean
}

/** A connection to a graph database. */
export interface GraphConnector {
  readonly name: string
  /** Creates a uniqueness constraint per (label, key) if it does not exist yet. */
  readonly ensureConstraints: (nodes: ReadonlyArray<{ readonly label: string; readonly key: ReadonlyArray<string> }>) => Effect.Effect<void, ConnectorFailure>
  /** Creates each vector index unless one of its name exists. */
  readonly ensureVectorIndexes: (indexes: ReadonlyArray<GraphVectorIndex>) => Effect.Effect<void, ConnectorFailure>
  /**
   * MERGEs one batch of nodes in one managed write transaction, writing only what differs:
   * a node whose properties, extra label and scope are already as the row says is not touched.
   * Rows must have non-null key values (the engine rejects the others before).
   */
  readonly writeNodes: (write: NodeWrite, rows: ReadonlyArray<Row>, stamp: Stamp, options: GraphWriteOptions) => Effect.Effect<GraphWriteResult, ConnectorFailure>
  /** Like `writeNodes` for relationships; a row whose start or end node does not exist is rejected. */
  readonly writeRelationships: (write: RelationshipWrite, rows: ReadonlyArray<Row>, stamp: Stamp, options: GraphWriteOptions) => Effect.Effect<GraphWriteResult, ConnectorFailure>
  /** Streams, in chunks, the identities of the entities of `write` that hold `scope`. */
  readonly scanScope: (write: GraphWrite, scope: SyncScope) => Stream.Stream<ReadonlyArray<Identity>, ConnectorFailure>
  /**
   * Removes `scope` from the given entities (those that hold it) in one transaction, and
   * deletes each that no scope holds any more (a node only when it has no relationships left).
   */
  readonly unscope: (write: GraphWrite, scope: SyncScope, identities: ReadonlyArray<Identity>) => Effect.Effect<UnscopeResult, ConnectorFailure>
  /** Deletes nodes of the label whose scope set is empty and that have no relationships. */
  readonly deleteOrphans: (write: NodeWrite, scope: SyncScope) => Effect.Effect<number, ConnectorFailure>
  /** How many entities of `write` hold `scope`. */
  readonly countInScope: (write: GraphWrite, scope: SyncScope) => Effect.Effect<number, ConnectorFailure>
  /** Whether any entity of `write` holds `scope` (stops at the first). */
  readonly holdsScope: (write: GraphWrite, scope: SyncScope) => Effect.Effect<boolean, ConnectorFailure>
  /** Whether the graph holds any relationship of the type, whatever its endpoints and scope. */
  readonly holdsRelationships: (type: string) => Effect.Effect<boolean, ConnectorFailure>
  /** Identifies the store (database id and creation time): a checkpoint is trusted only against the same one. */
  readonly fingerprint: Effect.Effect<string, ConnectorFailure>
  /**
   * Nodes of the label, whatever scope they hold, whose key matches one of `match`: each entry
   * lists, for the first key properties (the same number in every entry), the values each may have.
   */
  readonly findNodes: (node: EndpointRef, scope: SyncScope, match: ReadonlyArray<ReadonlyArray<ReadonlyArray<Value>>>) => Effect.Effect<ReadonlyArray<FoundEntity>, ConnectorFailure>
  /** The relationships of `write`'s pattern at the given nodes of its start or end (their full keys), whatever scope they hold. */
  readonly relationshipsAt: (write: RelationshipWrite, side: "start" | "end", nodes: ReadonlyArray<Identity>, scope: SyncScope) => Effect.Effect<ReadonlyArray<FoundEntity>, ConnectorFailure>
  /** Runs a read query (verification) in a read transaction. Integers come back as numbers when safe, else bigint. */
  readonly query: (cypher: string, params: Readonly<Record<string, Value>>) => Effect.Effect<ReadonlyArray<Row>, ConnectorFailure>
  /** The key values (as text) of the `node.label` nodes that have every hop, e.g. a MENTIONS relationship to a :Method. */
  readonly relatedKeys: (node: { readonly label: string; readonly key: string }, hops: ReadonlyArray<GraphHop>) => Effect.Effect<ReadonlyArray<string>, ConnectorFailure>
}

/**
 * A relationship a node must have: of `type`, in either direction, to a node with
 * `label`, optionally one whose `property` (as text) equals `value`.
 */
export interface GraphHop {
  readonly type: string
  readonly label: string
  readonly property: { readonly name: string; readonly value: string } | null
}

/** Opens a graph connector; connectivity is checked before it is returned, the scope closes it. */
export type GraphConnectorFactory = (options: {
  readonly name: string
  readonly uri: string
  readonly user: string | null
  readonly password: Redacted.Redacted<string> | null
  readonly database: string | null
}) => Effect.Effect<GraphConnector, ConnectorFailure, Scope.Scope>
