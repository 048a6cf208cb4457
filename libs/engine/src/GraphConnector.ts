import type { Effect, Redacted, Scope } from "effect"
import type { ConnectorFailure } from "./ConnectorError.ts"
import type { Row, Value, WriteResult } from "./Rows.ts"

/** A graph property filled from a source column. Names are validated identifiers. */
export interface PropertyMapping {
  readonly property: string
  readonly column: string
}

/** How a relationship property combines duplicate source rows within one run. */
export type Combine = "max" | "min" | "last"

/** An extra label taken from a column value, e.g. `type: method` adds `:Method`. */
export interface LabelFromColumn {
  readonly column: string
  /** value -> label; when absent the value is capitalised. Either way the label must be a valid identifier. */
  readonly map: Readonly<Record<string, string>> | null
}

/** Nodes MERGEd on `key` with `properties` SET. */
export interface NodeWrite {
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

/** Relationships MERGEd between MATCHed endpoints. */
export interface RelationshipWrite {
  readonly type: string
  readonly start: EndpointRef
  readonly end: EndpointRef
  readonly properties: ReadonlyArray<PropertyMapping & { readonly combine: Combine }>
}

/** Stamped on every written node and relationship along with `synced_at`. */
export interface Lineage {
  readonly runId: string
  readonly pipeline: string
  /** Extra lineage properties (e.g. `extractor_version`), written as given. */
  readonly extra: Readonly<Record<string, Value>>
}

/** Result of a graph batch; `missing` counts relationship rows whose endpoints were not found. */
export interface GraphWriteResult extends WriteResult {
  readonly missing: number
  /** Up to a few source rows that were missing an endpoint, for the error message. */
  readonly missingSample: ReadonlyArray<Row>
}

/** A connection to a graph database. */
export interface GraphConnector {
  readonly name: string
  /** Creates a uniqueness constraint per (label, key) if it does not exist yet. */
  readonly ensureConstraints: (nodes: ReadonlyArray<{ readonly label: string; readonly key: ReadonlyArray<string> }>) => Effect.Effect<void, ConnectorFailure>
  /** MERGEs one batch of nodes in one managed write transaction. */
  readonly writeNodes: (write: NodeWrite, rows: ReadonlyArray<Row>, lineage: Lineage) => Effect.Effect<GraphWriteResult, ConnectorFailure>
  /** MERGEs one batch of relationships in one managed write transaction. */
  readonly writeRelationships: (write: RelationshipWrite, rows: ReadonlyArray<Row>, lineage: Lineage) => Effect.Effect<GraphWriteResult, ConnectorFailure>
  /** Runs a read query (verification). Integers come back as numbers when safe, else bigint. */
  readonly query: (cypher: string, params: Readonly<Record<string, Value>>) => Effect.Effect<ReadonlyArray<Row>, ConnectorFailure>
}

/** Opens a graph connector; connectivity is checked before it is returned, the scope closes it. */
export type GraphConnectorFactory = (options: {
  readonly name: string
  readonly uri: string
  readonly user: string | null
  readonly password: Redacted.Redacted<string> | null
  readonly database: string | null
}) => Effect.Effect<GraphConnector, ConnectorFailure, Scope.Scope>
