import type { Identity } from "../GraphConnector.ts"
import type { Value } from "../Rows.ts"

/** Where a node or relationship was found: in its mapping's source (Postgres) and in the graph holding the step's scope. */
export interface Presence {
  /** The mapping's source yields it now. */
  readonly postgres: boolean
  /** `scope`: in the graph holding the step's scope; `other`: in the graph under other scopes only; `none`: not in the graph. */
  readonly graph: "scope" | "other" | "none"
}

/** What a node's vector is, when an embed step embeds its row: `ok`, or why not; `n/a` when no vector is expected. */
export type VectorState = "ok" | "no row" | "no vector" | "stale" | "n/a"

export interface TracedNode extends Presence {
  readonly label: string
  /** Key values in the node mapping's key order. */
  readonly key: Identity
  /** The same, by key property. */
  readonly properties: Readonly<Record<string, Value>>
  readonly vector: VectorState
}

export interface TracedRelationship extends Presence {
  /** Start key, end key, the relationship's own key values. */
  readonly identity: Identity
  /** The same, by key property: the start node's, the end node's, the relationship's own. */
  readonly start: Readonly<Record<string, Value>>
  readonly end: Readonly<Record<string, Value>>
  readonly key: Readonly<Record<string, Value>>
}

/** One relationship mapping followed from the nodes of one of its ends. */
export interface TraceHop {
  readonly hop: number
  readonly type: string
  /** The label the hop starts from, and whether it follows the relationships outgoing or incoming there. */
  readonly from: string
  readonly direction: "out" | "in"
  readonly to: string
  /** The mapping's source. */
  readonly source: string
  readonly relationships: ReadonlyArray<TracedRelationship>
  /** The nodes at the other ends. */
  readonly nodes: ReadonlyArray<TracedNode>
  /** Relationships of the type at these nodes that hold only other scopes (other versions): not compared. */
  readonly otherScopes: number
  /** Source rows with a NULL identity column: they make no relationship, so they are not compared. */
  readonly incomplete: number
}

export type DifferenceKind = "postgres-only" | "graph-only" | "endpoint-missing" | "vector"

export interface Difference {
  readonly kind: DifferenceKind
  /** 0 for the start nodes. */
  readonly hop: number
  readonly message: string
}

/** Everything a trace found, in both stores, and where they differ. */
export interface TraceResult {
  readonly pipeline: string
  readonly start: { readonly label: string; readonly key: Readonly<Record<string, string>> }
  readonly depth: number
  /** The scope of the start node's graph step, e.g. `extractor_versions=batch-v1`. */
  readonly scope: string
  readonly nodes: ReadonlyArray<TracedNode>
  readonly hops: ReadonlyArray<TraceHop>
  readonly differences: ReadonlyArray<Difference>
  /** Limits that cut the walk short. */
  readonly notes: ReadonlyArray<string>
}
