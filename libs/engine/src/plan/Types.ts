import type { Redacted } from "effect"
import type { ScalarValue } from "@polymath/dsl"
import type { GraphVectorIndex, NodeWrite, RelationshipWrite, SyncScope } from "../GraphConnector.ts"
import type { RetryPolicy } from "../Retry.ts"
import type { KeysetSource, SqlStatement, VectorTarget } from "../SqlConnector.ts"

/** A source bound to its connection, with params as positional values. */
export interface PlannedSource {
  readonly connection: string
  /** As declared; an incremental source gets its lower bound when a run starts. */
  readonly keyset: KeysetSource
  /** The cursor column of an incremental source, and the bound of its first run. */
  readonly incremental: { readonly column: string; readonly initial: string | null } | null
  /** Hash of the source's query and params: a stored high-water mark applies only to the same query. */
  readonly queryHash: string
}

/** What a step does with rows it cannot write. */
export interface RowPolicy {
  readonly onError: "fail" | "skip"
  /** Under skip: fail once the step has rejected more rows than this. */
  readonly maxRejected: number | null
}

export interface UnitBase {
  readonly unit: string
  readonly step: string
  /** What the unit writes, in the seed's words ("Paper nodes", "texts to embed with bge-m3 into passages.embedding"), for summaries. */
  readonly what: string
  readonly source: PlannedSource
  /** Every column the unit reads from its source: checked against the live result before anything is written. */
  readonly columns: ReadonlyArray<string>
}

/** Embedding one source's texts into a vector column. */
export interface EmbedUnit extends UnitBase {
  readonly kind: "embed"
  readonly idColumn: string
  readonly textColumn: string
  readonly model: string
  readonly target: VectorTarget
  readonly targetConnection: string
  /** Vector dimension the spec declares for the column, if any. */
  readonly declaredDimensions: number | null
  /** Re-embed every row the source selects, even those whose vector is up to date. */
  readonly force: boolean
}

export interface GraphUnitBase extends UnitBase {
  /** The columns that identify an entity, in identity order (see `Identity`). */
  readonly identity: ReadonlyArray<string>
  /** After a complete pass, remove this scope from what the source no longer yields. */
  readonly mirror: boolean
  /** Several source rows may map to one entity: the source is read folded (see `SourceFold`). */
  readonly folded: boolean
  /** The unfolded source, to count how many rows were combined. */
  readonly rawSource: PlannedSource
}

/** Writing one source's rows as nodes. */
export interface NodeUnit extends GraphUnitBase {
  readonly kind: "nodes"
  readonly write: NodeWrite
}

/** Writing one source's rows as relationships. */
export interface RelationshipUnit extends GraphUnitBase {
  readonly kind: "relationships"
  readonly write: RelationshipWrite
}

export type GraphUnit = NodeUnit | RelationshipUnit
export type PlannedUnit = EmbedUnit | GraphUnit

export interface StepBase {
  readonly name: string
  readonly after: ReadonlyArray<string>
  readonly retry: RetryPolicy
  readonly rows: RowPolicy
}

export interface EmbedStep extends StepBase {
  readonly kind: "embed"
  readonly unit: EmbedUnit
}

export interface GraphStep extends StepBase {
  readonly kind: "graph"
  readonly connection: string
  readonly constraints: ReadonlyArray<{ readonly label: string; readonly key: ReadonlyArray<string> }>
  /** Neo4j vector indexes the step's node mappings declare, created with the constraints. */
  readonly vectorIndexes: ReadonlyArray<GraphVectorIndex>
  readonly scope: SyncScope
  /** Nodes first, then relationships, so endpoints exist before they are matched. */
  readonly units: ReadonlyArray<GraphUnit>
}

export type PlannedStep = EmbedStep | GraphStep

/** A bound of a verification check. */
export type PlannedBound = { readonly value: number } | { readonly sourceCount: PlannedSource; readonly source: string }

/** A read-only query whose result is compared with bounds. */
export interface QueryCheck {
  readonly kind: "query"
  readonly name: string
  readonly connection: string
  readonly query: { readonly kind: "sql"; readonly statement: SqlStatement } | { readonly kind: "cypher"; readonly cypher: string; readonly params: Readonly<Record<string, ScalarValue>> }
  readonly of: "value" | "rows"
  readonly bounds: ReadonlyArray<{ readonly op: "equals" | "at_least" | "at_most"; readonly bound: PlannedBound }>
}

/** The identities a graph unit's source yields now, compared with the graph's entities of the unit holding the step's scope. */
export interface StoreCheck {
  readonly kind: "graph_matches_source"
  readonly name: string
  /** The graph step's connection. */
  readonly connection: string
  readonly scope: SyncScope
  readonly unit: GraphUnit
}

export type PlannedCheck = QueryCheck | StoreCheck

/** What a pipeline will do, in order: the interpreter's only input besides options. */
export interface Plan {
  readonly pipeline: string
  readonly specHash: string
  readonly params: Readonly<Record<string, ScalarValue>>
  readonly ledgerConnection: string
  readonly steps: ReadonlyArray<PlannedStep>
  readonly checks: ReadonlyArray<PlannedCheck>
  /** The models embed steps use, for the run's identity. */
  readonly models: ReadonlyArray<string>
  /** Set by `onlySteps`: the run covers part of the pipeline, so mirroring never deletes. */
  readonly partial: boolean
  /** The connections the ledger, steps and checks use, resolved, in declaration order: what a run opens. */
  readonly connections: ReadonlyArray<PlanConnection>
}

/** A postgres connection as a run opens it. */
export interface PostgresPlanConnection {
  readonly name: string
  readonly kind: "postgres"
  readonly dsn: Redacted.Redacted<string>
}

/** A neo4j connection as a run opens it; an empty password is no password. */
export interface Neo4jPlanConnection {
  readonly name: string
  readonly kind: "neo4j"
  readonly uri: string
  readonly user: string | null
  readonly password: Redacted.Redacted<string> | null
  readonly database: string | null
}

export type PlanConnection = PostgresPlanConnection | Neo4jPlanConnection
