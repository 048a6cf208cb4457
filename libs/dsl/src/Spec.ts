import { Schema } from "effect"
import { EndpointSpec } from "./Endpoint.ts"
import { Identifier, Name, NamedMap, TableName } from "./Names.ts"

/**
 * The pipeline file's schema. Decoding runs with excess-property errors and all
 * errors collected, so every unknown key and wrong type is reported at once.
 * Cross-references (sources, connections, params, models, cycles) are checked by Lint.
 */

/**
 * A whole number within bounds. Sizes and delays have upper bounds: a typo such as
 * `batch_size: 1e12` would otherwise be accepted and exhaust memory or wait for ages.
 */
const WholeNumber = (minimum: number, maximum: number) => {
  const most = maximum.toLocaleString("en-US")
  const message = minimum === 1 ? `must be a positive integer, at most ${most}` : `must be a whole number from ${minimum} to ${most}`
  return Schema.Number.check(Schema.isInt({ message }), Schema.isBetween({ minimum, maximum }, { message }))
}

/** Rows per page of a source read. */
const PageSize = WholeNumber(1, 100_000)
/** Texts per embedding call, or rows per graph write. */
const BatchSize = WholeNumber(1, 10_000)
/** pgvector stores at most 16,000 dimensions. */
const Dimensions = WholeNumber(1, 16_000)

/** A param value: the type of the default decides how `--set` values are parsed. */
export const Scalar = Schema.Union([Schema.String, Schema.Number, Schema.Boolean, Schema.Null])

/** A secret: decoded into a Redacted so it is never printed. */
const Secret = Schema.RedactedFromValue(Schema.String)

export const PostgresConnection = Schema.Struct({
  dsn: Secret
})

export const Neo4jConnection = Schema.Struct({
  uri: Schema.String,
  user: Schema.optionalKey(Schema.NullOr(Schema.String)),
  password: Schema.optionalKey(Schema.NullOr(Secret)),
  database: Schema.optionalKey(Schema.NullOr(Schema.String))
})

/** One connection: exactly one of `postgres` or `neo4j` (checked by Lint). */
export const Connection = Schema.Struct({
  postgres: Schema.optionalKey(PostgresConnection),
  neo4j: Schema.optionalKey(Neo4jConnection)
})

/** A key: one column or several. */
export const KeyColumns = Schema.Union([Identifier, Schema.NonEmptyArray(Identifier)])

/**
 * An incremental source: each run reads only rows whose `cursor` column is at or past the
 * greatest value the last successful run with the same params saw (dlt's `incremental`).
 * `initial` bounds the first run.
 */
export const Incremental = Schema.Struct({
  cursor: Identifier,
  initial: Schema.optionalKey(Schema.Union([Schema.String, Schema.Number]))
})

export const Source = Schema.Struct({
  connection: Name,
  key: KeyColumns,
  sql: Schema.String,
  page_size: Schema.optionalKey(PageSize),
  incremental: Schema.optionalKey(Incremental)
})

export const Retry = Schema.Struct({
  attempts: Schema.optionalKey(WholeNumber(1, 100)),
  /** Up to 10 minutes before the first retry. */
  base_ms: Schema.optionalKey(WholeNumber(1, 600_000)),
  /** Up to an hour between retries. */
  max_ms: Schema.optionalKey(WholeNumber(1, 3_600_000))
})

/**
 * An approximate-nearest-neighbour index on the vector column, built after the vectors
 * are written: HNSW (`m` 2-100, `ef_construction` 4-1000) or IVFFlat (`lists` 1-32768),
 * by distance metric (default cosine).
 */
export const VectorIndexSpec = Schema.Struct({
  method: Schema.Literals(["hnsw", "ivfflat"]),
  metric: Schema.optionalKey(Schema.Literals(["cosine", "l2", "inner_product"])),
  m: Schema.optionalKey(WholeNumber(2, 100)),
  ef_construction: Schema.optionalKey(WholeNumber(4, 1000)),
  lists: Schema.optionalKey(WholeNumber(1, 32_768))
})

export const EmbedInto = Schema.Struct({
  connection: Schema.optionalKey(Name),
  table: TableName,
  key: Identifier,
  vector: Identifier,
  set: Schema.optionalKey(NamedMap(Identifier, Scalar)),
  dimensions: Schema.optionalKey(Dimensions),
  index: Schema.optionalKey(VectorIndexSpec)
})

export const Embed = Schema.Struct({
  from: Name,
  id: Schema.optionalKey(Identifier),
  text: Identifier,
  model: Schema.String,
  batch_size: Schema.optionalKey(BatchSize),
  into: EmbedInto
})

/** Property mappings: `[title, year]` (same names) or `{ preview: text_preview }` (property: column). */
export const Properties = Schema.Union([Schema.Array(Identifier), NamedMap(Identifier, Identifier)])

export const LabelsFrom = Schema.Union([
  Identifier,
  Schema.Struct({ column: Identifier, map: Schema.optionalKey(Schema.Record(Schema.String, Identifier)) })
])

/** How rows that map to one entity are folded into it: the greatest / smallest value, or that of the first / last row in key order. */
export const Combine = Schema.Literals(["max", "min", "first", "last"])

/** One rule for every property, or one per property. */
export const CombineRules = Schema.Union([Combine, NamedMap(Identifier, Combine)])

/** What happens to an entity this scope wrote earlier that the source no longer yields. */
export const OnMissing = Schema.Literals(["keep", "delete"])

/** A Neo4j vector index on a list-of-floats property of the mapping's nodes (Neo4j caps dimensions at 4096). */
export const NodeVectorIndex = Schema.Struct({
  property: Identifier,
  dimensions: WholeNumber(1, 4096),
  similarity: Schema.optionalKey(Schema.Literals(["cosine", "euclidean"]))
})

export const NodeMapping = Schema.Struct({
  label: Identifier,
  from: Name,
  key: Schema.Union([Identifier, Schema.NonEmptyArray(Identifier), NamedMap(Identifier, Identifier)]),
  properties: Schema.optionalKey(Properties),
  labels_from: Schema.optionalKey(LabelsFrom),
  combine: Schema.optionalKey(CombineRules),
  on_missing: Schema.optionalKey(OnMissing),
  vector_index: Schema.optionalKey(NodeVectorIndex)
})

export const RelationshipMapping = Schema.Struct({
  type: Identifier,
  from: Name,
  start: EndpointSpec,
  end: EndpointSpec,
  /** Identity properties beyond the endpoints: one relationship per distinct value (`key: [role]`). */
  key: Schema.optionalKey(Properties),
  properties: Schema.optionalKey(Properties),
  combine: Schema.optionalKey(CombineRules),
  on_missing: Schema.optionalKey(OnMissing)
})

export const Graph = Schema.Struct({
  connection: Name,
  batch_size: Schema.optionalKey(BatchSize),
  /** The scope this step writes in: one property that holds a set of scope values on every entity. */
  lineage: Schema.optionalKey(NamedMap(Identifier, Scalar)),
  /** Default `on_missing` for every mapping of the step. */
  on_missing: Schema.optionalKey(OnMissing),
  nodes: Schema.optionalKey(Schema.Array(NodeMapping)),
  relationships: Schema.optionalKey(Schema.Array(RelationshipMapping))
})

/** One step: exactly one of `embed` or `graph` (checked by Lint). */
export const Step = Schema.Struct({
  description: Schema.optionalKey(Schema.String),
  after: Schema.optionalKey(Schema.Array(Name)),
  retry: Schema.optionalKey(Retry),
  /** What a bad row does: `fail` the run (default) or `skip` it into the run's rejected rows. */
  on_error: Schema.optionalKey(Schema.Literals(["fail", "skip"])),
  /** Under `skip`, fail once more than this many rows of the step are rejected. */
  max_rejected: Schema.optionalKey(WholeNumber(0, 10_000_000)),
  embed: Schema.optionalKey(Embed),
  graph: Schema.optionalKey(Graph)
})

/** A bound for a check: a number, or the current row count of a source. */
export const Bound = Schema.Union([Schema.Number, Schema.Struct({ source_count: Name })])

export const Expect = Schema.Struct({
  of: Schema.optionalKey(Schema.Literals(["value", "rows"])),
  equals: Schema.optionalKey(Bound),
  at_least: Schema.optionalKey(Bound),
  at_most: Schema.optionalKey(Bound)
})

/**
 * A check that compares the stores instead of counting: the identities the mapping's
 * source yields now against the graph's entities of that label or type in the step's scope.
 */
export const GraphMatchesSource = Schema.Struct({
  node: Schema.optionalKey(Identifier),
  relationship: Schema.optionalKey(Identifier)
})

/** One check: exactly one of `sql`, `cypher` (with `expect`) or `graph_matches_source` (checked by Lint). */
export const Check = Schema.Struct({
  name: Schema.String,
  connection: Schema.optionalKey(Name),
  sql: Schema.optionalKey(Schema.String),
  cypher: Schema.optionalKey(Schema.String),
  graph_matches_source: Schema.optionalKey(GraphMatchesSource),
  expect: Schema.optionalKey(Expect)
})

/** How a search's hits continue into the graph. */
export const SearchGraph = Schema.Struct({
  /** The Neo4j connection; default: the pipeline's only one. */
  connection: Schema.optionalKey(Name),
  /** The node a hit is, e.g. `Passage(passage_id)`: its label and the key property the hit's key matches. */
  node: EndpointSpec,
  /** A read that receives the hits' keys as `$keys` and returns a `key` column with what to show beside each hit. */
  expand: Schema.optionalKey(Schema.String)
})

/**
 * A named semantic search over an embed step's vectors: the query is embedded with the
 * step's model (its query prefix applied), the nearest rows of the step's vector table are
 * found with the index's metric, and their keys are expanded through the graph.
 */
export const Search = Schema.Struct({
  description: Schema.optionalKey(Schema.String),
  /** The embed step whose vectors are searched: its table, key, vector column and model. */
  step: Name,
  /** Columns of the step's table shown with each hit. */
  return: Schema.optionalKey(Schema.Array(Identifier)),
  /** Columns of the step's table that `--filter column=value` may name. */
  filters: Schema.optionalKey(Schema.Array(Identifier)),
  /** Hits returned when `--k` is not given (default 10). */
  k: Schema.optionalKey(WholeNumber(1, 1000)),
  graph: Schema.optionalKey(SearchGraph)
})

export const PipelineSpec = Schema.Struct({
  pipeline: Name,
  description: Schema.optionalKey(Schema.String),
  extends: Schema.optionalKey(Name),
  params: Schema.optionalKey(NamedMap(Identifier, Scalar)),
  connections: NamedMap(Name, Connection),
  ledger: Schema.optionalKey(Schema.Struct({ connection: Name })),
  retry: Schema.optionalKey(Retry),
  sources: NamedMap(Name, Source),
  steps: NamedMap(Name, Step),
  verify: Schema.optionalKey(Schema.Array(Check)),
  searches: Schema.optionalKey(NamedMap(Name, Search))
})

/** A decoded pipeline file. */
export type PipelineSpec = typeof PipelineSpec.Type
export type SourceSpec = typeof Source.Type
export type StepSpec = typeof Step.Type
export type EmbedSpec = typeof Embed.Type
export type GraphSpec = typeof Graph.Type
export type NodeMappingSpec = typeof NodeMapping.Type
export type RelationshipMappingSpec = typeof RelationshipMapping.Type
export type CheckSpec = typeof Check.Type
export type SearchSpec = typeof Search.Type
export type GraphMatchesSourceSpec = typeof GraphMatchesSource.Type
export type BoundSpec = typeof Bound.Type
export type RetrySpec = typeof Retry.Type
export type ConnectionSpec = typeof Connection.Type
export type ScalarValue = typeof Scalar.Type
export type CombineRule = typeof Combine.Type
export type CombineRulesSpec = typeof CombineRules.Type
