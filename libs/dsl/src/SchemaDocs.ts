/*
 * What the pipeline JSON Schema says beyond the Effect Schema: each field's description
 * (shown by editors on hover), the name rule its strings or keys follow, and the
 * "exactly one of" / "at least one of" rules Lint enforces. Keyed by field path:
 * `a.b` a property, `a.*` every entry of map `a`, `a[]` every item of list `a`.
 * JsonSchema.ts applies them; its test fails on a field without a description or a
 * path that no longer exists, so a field added to Spec.ts must be described here.
 */

/** A name rule of Names.ts (`endpoint`: the written form of a relationship endpoint). */
export type NameRule = "identifier" | "name" | "table" | "endpoint"

export interface FieldDoc {
  readonly description?: string
  /** The rule the field's strings follow (a list's items: `a[]`, a map's values: `a.*`). */
  readonly rule?: NameRule
  /** The rule the keys of the map at this path follow. */
  readonly keys?: NameRule
  /** The object must have exactly one of these keys. */
  readonly exactlyOne?: ReadonlyArray<string>
  /** The object must have at least one of these keys. */
  readonly atLeastOne?: ReadonlyArray<string>
  /** The map at this path holds at most this many entries. */
  readonly maxEntries?: number
  /** Keys the object must have whenever it has a given key (JSON Schema `dependentRequired`). */
  readonly dependentRequired?: Readonly<Record<string, ReadonlyArray<string>>>
}

export const pipelineDescription =
  "A polymath-etl pipeline: reads rows from Postgres sources and writes pgvector embeddings and a Neo4j graph that stay an exact projection of the sources, run after run."

const retry = (scope: string): Record<string, FieldDoc> => ({
  [scope]: { description: "How transient failures (lost connection, deadlock, serialization failure) are retried: exponential, jittered back-off, capped. Other failures are not retried." },
  [`${scope}.attempts`]: { description: "How many times a failing batch is tried in all (default 6)." },
  [`${scope}.base_ms`]: { description: "The first back-off delay in milliseconds, doubled on each retry (default 200)." },
  [`${scope}.max_ms`]: { description: "The longest back-off delay in milliseconds (default 10000)." }
})

const onMissing = "What happens to an entity this step's scope wrote earlier that the source no longer yields: `keep` it (default) or `delete` it (it loses the scope after a complete, successful pass; a relationship is then deleted, a node only when no scope holds it and nothing connects to it). An incremental source cannot be mirrored."
const combine = "How rows that map to one entity are folded into it, when the mapping's identity leaves out part of its source's key: `max`, `min`, or `first` / `last` row in key order; one rule for every property or one per property. A property without a rule is rejected, so rows never collapse silently."
const properties = "Properties written from row columns: `[title, year]` (property and column of the same name) or `{ preview: text_preview }` (property: column)."
const endpoint = (which: string): Record<string, FieldDoc> => ({
  [`steps.*.graph.relationships[].${which}`]: {
    description: `The ${which} node, MATCHed by its label and key properties from row columns: \`Passage(passage_id)\`, \`Concept(name: concept_name, type: concept_type)\`, or \`{ label, key: { property: column } }\`. A missing node is a bad row.`,
    rule: "endpoint"
  },
  [`steps.*.graph.relationships[].${which}.label`]: { description: `The label of the ${which} node.`, rule: "identifier" },
  [`steps.*.graph.relationships[].${which}.key`]: { description: `The key properties of the ${which} node, each from a row column (property: column).`, keys: "identifier" },
  [`steps.*.graph.relationships[].${which}.key.*`]: { rule: "identifier" }
})
const bound = (name: string, meaning: string): Record<string, FieldDoc> => ({
  [`verify[].expect.${name}`]: { description: `${meaning}: a number, or \`{ source_count: name }\`, the current row count of a source.` },
  [`verify[].expect.${name}.source_count`]: { description: "A source whose current row count is the bound.", rule: "name" }
})

export const fieldDocs: Readonly<Record<string, FieldDoc>> = {
  "pipeline": { description: "The pipeline's name (letters, digits, `_` and `-`). Without a graph step `lineage`, it is the scope the step writes in.", rule: "name" },
  "description": { description: "What the pipeline does, for people." },
  "extends": {
    description: "A pipeline to inherit everything from: a name (`<name>.yaml` beside this file) or a path to a .yaml file. Entries of `params`, `connections`, `sources` and `steps` given here replace the parent's entry of that name; other keys replace the parent's whole. The sections otherwise required may then be left out."
  },
  "params": {
    description: "Parameters with their defaults, overridden with `--set name=value` (the default's type decides how the value is parsed; a `null` default must be set). Referenced as `${params.name}` in the file and as `:name` (SQL) / `$name` (Cypher) in queries, where they are sent as bound parameters.",
    keys: "identifier"
  },
  "params.*": { description: "The param's default: a string, number, true/false, or null (no default: it must be given with --set)." },
  "connections": { description: "The databases the pipeline reads and writes, by name. Values may use `${env.NAME}` and `${env.NAME:-default}`; DSNs and passwords are kept redacted.", keys: "name" },
  "connections.*": { description: "One connection: exactly one of `postgres` or `neo4j`.", exactlyOne: ["postgres", "neo4j"] },
  "connections.*.postgres": { description: "A Postgres database: sources, vector tables, and the run ledger." },
  "connections.*.postgres.dsn": { description: "The connection string, e.g. `${env.POSTGRES_DSN}` (secret: never printed)." },
  "connections.*.neo4j": { description: "A Neo4j database, written by graph steps." },
  "connections.*.neo4j.uri": { description: "The Bolt URI, e.g. `${env.NEO4J_URI}`." },
  "connections.*.neo4j.user": { description: "The user name." },
  "connections.*.neo4j.password": { description: "The password (secret: never printed)." },
  "connections.*.neo4j.database": { description: "The database to use (default: the server's default database)." },
  "ledger": { description: "Where run state (runs, checkpoints, rejected rows, embedding hashes) is kept, in schema `polymath_etl`. Default: the first postgres connection." },
  "ledger.connection": { description: "A postgres connection to hold the run ledger.", rule: "name" },
  ...retry("retry"),
  "sources": { description: "Row sources, by name: SQL queries read page by page in key order (keyset pagination), with checkpoints to resume from.", keys: "name" },
  "sources.*": { description: "One source: a SQL query, its connection, and the key that identifies one row." },
  "sources.*.connection": { description: "The postgres connection the query runs on.", rule: "name" },
  "sources.*.key": {
    description: "The column, or columns, that identify one row; pagination and checkpoints use it. A repeated key fails the run naming the source and the value.",
    rule: "identifier"
  },
  "sources.*.key[]": { rule: "identifier" },
  "sources.*.sql": { description: "The query. Params are written `:name` and sent as bound parameters; `${...}` interpolation is rejected here." },
  "sources.*.page_size": { description: "Rows read per page (default: the reading step's batch_size, else 1000)." },
  "sources.*.incremental": {
    description: "Read only rows whose cursor column is at or past the greatest value the last successful run with the same pipeline and params saw (the first run reads all, or from `initial`). Changing the query starts from scratch."
  },
  "sources.*.incremental.cursor": { description: "The column that moves forward when a row changes, e.g. `updated_at`.", rule: "identifier" },
  "sources.*.incremental.initial": { description: "Where the first run starts: rows with a cursor value at or past this one." },
  "steps": { description: "What the pipeline writes, by step name. Steps run concurrently unless ordered with `after`.", keys: "name" },
  "steps.*": { description: "One step: exactly one of `embed` or `graph`.", exactlyOne: ["embed", "graph"] },
  "steps.*.description": { description: "What the step does, for people." },
  "steps.*.after": { description: "Steps that must finish before this one starts." },
  "steps.*.after[]": { rule: "name" },
  ...retry("steps.*.retry"),
  "steps.*.on_error": { description: "What a bad row (NULL, empty or whitespace-only text; NULL key or endpoint; missing endpoint node; no target row) does: `fail` the run naming every bad row of its batch, nothing of that batch written (default), or `skip` it into `polymath_etl.rejected_rows`; the run then exits 4." },
  "steps.*.max_rejected": { description: "Under `on_error: skip`, fail the run once more than this many rows of the step are rejected." },
  "steps.*.embed": { description: "Embed a text column of a source into a pgvector column. Rows that are new, whose text or model changed, or whose vector was cleared are embedded; the rest are skipped (`--force` re-embeds all)." },
  "steps.*.embed.from": { description: "The source to read.", rule: "name" },
  "steps.*.embed.id": { description: "The source column that identifies the target row (default: the source's first key column).", rule: "identifier" },
  "steps.*.embed.text": { description: "The source column holding the text to embed.", rule: "identifier" },
  "steps.*.embed.model": { description: "The embedding model, a name in `models/registry.json`." },
  "steps.*.embed.batch_size": { description: "Rows embedded and written per batch (also the source's page size when it sets none; default 1000)." },
  "steps.*.embed.into": { description: "The table row each vector is written to." },
  "steps.*.embed.into.connection": { description: "The postgres connection of the table (default: the source's).", rule: "name" },
  "steps.*.embed.into.table": { description: "The target table, optionally schema-qualified (`passages`, `public.passages`).", rule: "table" },
  "steps.*.embed.into.key": { description: "The table's column matched against the source's `id` value.", rule: "identifier" },
  "steps.*.embed.into.vector": { description: "The pgvector column written.", rule: "identifier" },
  "steps.*.embed.into.set": { description: "Constant columns written with each vector (column: value), e.g. `{ embedding_model: \"${params.model}\" }`.", keys: "identifier" },
  "steps.*.embed.into.set.*": { description: "The value written to the column." },
  "steps.*.embed.into.dimensions": { description: "The vector column's dimensions, checked against the model and the database." },
  "steps.*.embed.into.index": { description: "An approximate-nearest-neighbour index on the vector column, built (CREATE INDEX CONCURRENTLY) once the run has written the vectors and kept as long as it is as declared; `plan` says whether it exists." },
  "steps.*.embed.into.index.method": { description: "`hnsw` (better recall and speed, slower to build) or `ivfflat` (quick to build; build it after the table is filled)." },
  "steps.*.embed.into.index.metric": { description: "The distance searches use: `cosine` (default), `l2` or `inner_product`." },
  "steps.*.embed.into.index.m": { description: "HNSW: connections per node (pgvector's default 16)." },
  "steps.*.embed.into.index.ef_construction": { description: "HNSW: candidate list size while building (pgvector's default 64)." },
  "steps.*.embed.into.index.lists": { description: "IVFFlat: number of lists (about rows / 1000 up to a million rows)." },
  "steps.*.graph": { description: "Mirror rows into Neo4j nodes and relationships. An entity already as the row says is not written at all." },
  "steps.*.graph.connection": { description: "The neo4j connection written.", rule: "name" },
  "steps.*.graph.batch_size": { description: "Rows written per transaction (also the sources' page size when they set none; default 1000)." },
  "steps.*.graph.lineage": {
    description: "The scope this step writes in: one property that holds, on every entity, the set of scopes that yield it, e.g. `{ extractor_versions: \"${params.extractor_version}\" }`. A run adds its scope and never removes another's. Default: the pipeline name in `pipelines`.",
    keys: "identifier",
    maxEntries: 1
  },
  "steps.*.graph.lineage.*": { description: "This run's scope value." },
  "steps.*.graph.on_missing": { description: `The default \`on_missing\` of the step's mappings. ${onMissing}` },
  "steps.*.graph.nodes": { description: "Node mappings: one node per distinct key of each source row." },
  "steps.*.graph.nodes[]": { description: "One node mapping: a label, a source, and the key that identifies a node." },
  "steps.*.graph.nodes[].label": { description: "The node label.", rule: "identifier" },
  "steps.*.graph.nodes[].from": { description: "The source to read.", rule: "name" },
  "steps.*.graph.nodes[].key": {
    description: "The node's identity: a column, columns (properties of the same names), or `{ property: column }`. A uniqueness constraint on (label, key) is created.",
    rule: "identifier",
    keys: "identifier"
  },
  "steps.*.graph.nodes[].key[]": { rule: "identifier" },
  "steps.*.graph.nodes[].key.*": { rule: "identifier" },
  "steps.*.graph.nodes[].properties": { description: properties, keys: "identifier" },
  "steps.*.graph.nodes[].properties[]": { rule: "identifier" },
  "steps.*.graph.nodes[].properties.*": { rule: "identifier" },
  "steps.*.graph.nodes[].labels_from": {
    description: "An extra label from a row column (part of the node's key): the column's value, or `{ column, map }` to translate values into labels.",
    rule: "identifier"
  },
  "steps.*.graph.nodes[].labels_from.column": { description: "The column whose value gives the label.", rule: "identifier" },
  "steps.*.graph.nodes[].labels_from.map": { description: "Column value: label." },
  "steps.*.graph.nodes[].labels_from.map.*": { rule: "identifier" },
  "steps.*.graph.nodes[].combine": { description: combine, keys: "identifier" },
  "steps.*.graph.nodes[].on_missing": { description: onMissing },
  "steps.*.graph.relationships": { description: "Relationship mappings: one relationship per row between two MATCHed nodes." },
  "steps.*.graph.relationships[]": { description: "One relationship mapping: a type, a source, and its two endpoints." },
  "steps.*.graph.relationships[].type": { description: "The relationship type.", rule: "identifier" },
  "steps.*.graph.relationships[].from": { description: "The source to read.", rule: "name" },
  ...endpoint("start"),
  ...endpoint("end"),
  "steps.*.graph.relationships[].key": {
    description: "Identity properties beyond the endpoints: one relationship per distinct value, e.g. `key: [role]` keeps one ACTED_IN per role.",
    keys: "identifier"
  },
  "steps.*.graph.relationships[].key[]": { rule: "identifier" },
  "steps.*.graph.relationships[].key.*": { rule: "identifier" },
  "steps.*.graph.relationships[].properties": { description: properties, keys: "identifier" },
  "steps.*.graph.relationships[].properties[]": { rule: "identifier" },
  "steps.*.graph.relationships[].properties.*": { rule: "identifier" },
  "steps.*.graph.relationships[].combine": { description: combine, keys: "identifier" },
  "steps.*.graph.relationships[].on_missing": { description: onMissing },
  "verify": { description: "Checks run after the steps (and by `verify`): read-only SQL or Cypher queries with an expected result, or a comparison of the graph with its sources." },
  "verify[]": {
    description: "One check: exactly one of `sql` or `cypher` (with `expect`), or `graph_matches_source`.",
    exactlyOne: ["sql", "cypher", "graph_matches_source"],
    dependentRequired: { sql: ["expect"], cypher: ["expect"] }
  },
  "verify[].graph_matches_source": {
    description: "Compares the stores entity by entity: every identity the mapping's source yields now must be in the graph holding the step's lineage, and nothing else may hold it. Exactly one of `node` (a label) or `relationship` (a type), written by one mapping of the pipeline. Fails listing the first differences each way.",
    exactlyOne: ["node", "relationship"]
  },
  "verify[].graph_matches_source.node": { description: "The label of a node mapping.", rule: "identifier" },
  "verify[].graph_matches_source.relationship": { description: "The type of a relationship mapping.", rule: "identifier" },
  "verify[].name": { description: "The check's name, unique in the pipeline." },
  "verify[].connection": { description: "The connection the query runs on (default: the first connection of the query's kind).", rule: "name" },
  "verify[].sql": { description: "A SQL query, run in a read-only transaction; params as `:name`." },
  "verify[].cypher": { description: "A Cypher query, run in a read transaction; params as `$name`." },
  "verify[].expect": { description: "What the query of a `sql` or `cypher` check must return: at least one of `equals`, `at_least`, `at_most`.", atLeastOne: ["equals", "at_least", "at_most"] },
  "verify[].expect.of": { description: "What is compared: the first column of the first row (`value`, default) or the number of rows (`rows`)." },
  ...bound("equals", "The exact expected result"),
  ...bound("at_least", "The smallest result allowed"),
  ...bound("at_most", "The greatest result allowed"),
  "steps.*.graph.nodes[].vector_index": { description: "A Neo4j vector index on one of the mapping's properties, created with the step's constraints: a property copied from a pgvector column arrives as a list of floats." },
  "steps.*.graph.nodes[].vector_index.property": { description: "The property (one of the mapping's properties) that holds the vector.", rule: "identifier" },
  "steps.*.graph.nodes[].vector_index.dimensions": { description: "The vectors' dimension (1-4096); nodes whose property has another length are not indexed." },
  "steps.*.graph.nodes[].vector_index.similarity": { description: "`cosine` (default) or `euclidean`." },
  "searches": { description: "Named semantic searches, run with `polymath search --pipeline <name> <search> \"query\"`: kNN over an embed step's vectors, expanded through the graph.", keys: "name" },
  "searches.*": { description: "One search over an embed step's vectors." },
  "searches.*.description": { description: "What the search finds, shown by `polymath search --help`-style listings." },
  "searches.*.step": { description: "The embed step whose vectors are searched: its table, key, vector column, model (with the model's query prefix) and index metric.", rule: "name" },
  "searches.*.return": { description: "Columns of the step's table shown with each hit.", rule: "identifier" },
  "searches.*.return[]": { rule: "identifier" },
  "searches.*.filters": { description: "Columns of the step's table that `--filter column=value` may name (compared as text).", rule: "identifier" },
  "searches.*.filters[]": { rule: "identifier" },
  "searches.*.k": { description: "How many hits when `--k` is not given (default 10)." },
  "searches.*.graph": { description: "How hits continue into the graph: the node each hit is, and an optional expansion read." },
  "searches.*.graph.connection": { description: "The Neo4j connection (default: the pipeline's only one).", rule: "name" },
  "searches.*.graph.node": { description: "The node a hit is, `Label(key_property)`: the hit's key matches that property. `--via TYPE:Label` keeps hits whose node has such a relationship.", rule: "endpoint" },
  "searches.*.graph.node.label": { description: "The hit node's label.", rule: "identifier" },
  "searches.*.graph.node.key": { description: "The hit node's key property (property: column).", keys: "identifier" },
  "searches.*.graph.node.key.*": { rule: "identifier" },
  "searches.*.graph.expand": { description: "A Cypher read that receives the hits' keys as `$keys` (and the pipeline's params) and returns a `key` column and what to show beside each hit; run once per search." }
}
