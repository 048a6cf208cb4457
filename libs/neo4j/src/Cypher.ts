/**
 * Cypher text for the connector's statements. Labels, relationship types and
 * property names cannot be parameters, so they are validated identifiers quoted
 * with backticks; every value travels as a parameter.
 */
import type { Combine } from "@polymath/engine"
import { invalidInput } from "./Neo4jError.ts"

/** What a label, relationship type or property name must look like. */
export const identifierPattern = /^[A-Za-z_][A-Za-z0-9_]*$/

/** True when `name` may be used as a label, relationship type or property name. */
export const isIdentifier = (name: string): boolean => identifierPattern.test(name)

/** Validates `name` and quotes it with backticks; throws a non-retryable Neo4jError for anything else. */
export const quote = (name: string, what = "identifier"): string => {
  if (!isIdentifier(name)) {
    throw invalidInput("InvalidIdentifier", `invalid ${what} ${JSON.stringify(name)}: must match ${identifierPattern.source}`)
  }
  // Unreachable for valid identifiers; kept so that quoting stays safe if the pattern is ever widened.
  return `\`${name.replace(/`/g, "``")}\``
}

/** The lineage properties every write stamps, besides `synced_at`. */
export const lineageProperties = { runId: "run_id", pipeline: "pipeline", syncedAt: "synced_at" } as const

/**
 * `SET` items for the lineage stamp on variable `v`; `extra` names are read from `$lineage.extra`.
 * Lineage is written after the data properties so that it wins a name clash.
 */
const lineageSets = (v: string, extra: ReadonlyArray<string>): ReadonlyArray<string> => [
  `${v}.${quote(lineageProperties.syncedAt)} = datetime()`,
  `${v}.${quote(lineageProperties.runId)} = $lineage.runId`,
  `${v}.${quote(lineageProperties.pipeline)} = $lineage.pipeline`,
  ...extra.map((name) => `${v}.${quote(name, "lineage property")} = $lineage.extra.${quote(name, "lineage property")}`)
]

const keyMap = (keys: ReadonlyArray<string>, source: string): string =>
  `{${keys.map((k) => `${quote(k, "key property")}: ${source}.${quote(k, "key property")}`).join(", ")}}`

/** The shape of one node MERGE statement. */
export interface NodeStatement {
  readonly label: string
  readonly key: ReadonlyArray<string>
  /** Non-key properties to SET from the row. */
  readonly properties: ReadonlyArray<string>
  /** An extra label SET on every node of this statement (from `labelFrom`), or null. */
  readonly extraLabel: string | null
  /** Names of the lineage `extra` properties. */
  readonly lineageExtra: ReadonlyArray<string>
}

/**
 * `UNWIND $rows AS row MERGE (n:Label {key...}) SET ...`. `$rows` holds maps keyed by
 * property name; `$lineage` is `{ runId, pipeline, extra }`. Created nodes are counted
 * from the summary counters, so the statement returns nothing.
 */
export const nodeMergeStatement = (s: NodeStatement): string => {
  if (s.key.length === 0) throw invalidInput("InvalidWrite", `node write for ${s.label} has no key properties`)
  const keySet = new Set(s.key)
  const sets = [
    ...s.properties.filter((p) => !keySet.has(p)).map((p) => `n.${quote(p, "property")} = row.${quote(p, "property")}`),
    ...lineageSets("n", s.lineageExtra)
  ]
  return [
    "UNWIND $rows AS row",
    `MERGE (n:${quote(s.label, "label")} ${keyMap(s.key, "row")})`,
    `SET ${sets.join(", ")}`,
    ...(s.extraLabel === null ? [] : [`SET n:${quote(s.extraLabel, "label")}`])
  ].join("\n")
}

/** The shape of one relationship MERGE statement. */
export interface RelationshipStatement {
  readonly type: string
  readonly start: { readonly label: string; readonly key: ReadonlyArray<string> }
  readonly end: { readonly label: string; readonly key: ReadonlyArray<string> }
  readonly properties: ReadonlyArray<{ readonly property: string; readonly combine: Combine }>
  readonly lineageExtra: ReadonlyArray<string>
}

/**
 * Keeps the stored value when it came from this same run and already beats the row's,
 * so duplicates spread over batches give the same result in any order. A value from an
 * earlier run is always replaced; a null row value never beats a stored one of this run.
 */
const combineSet = (property: string, combine: Combine): string => {
  const p = quote(property, "property")
  const target = `r.${p}`
  const incoming = `row.p.${p}`
  if (combine === "last") return `${target} = ${incoming}`
  const op = combine === "max" ? ">=" : "<="
  return `${target} = CASE WHEN sameRun AND ${target} IS NOT NULL AND (${incoming} IS NULL OR ${target} ${op} ${incoming}) THEN ${target} ELSE ${incoming} END`
}

/**
 * `UNWIND $rows AS row MATCH (a) MATCH (b) MERGE (a)-[r:TYPE]->(b) SET ...`, returning how
 * many distinct rows found both endpoints. `$rows` holds `{ i, s, e, p }`: the row index,
 * start key map, end key map and property map.
 */
export const relationshipMergeStatement = (s: RelationshipStatement): string => {
  if (s.start.key.length === 0 || s.end.key.length === 0) {
    throw invalidInput("InvalidWrite", `relationship write for ${s.type} has an endpoint without key properties`)
  }
  const sets = [...s.properties.map((p) => combineSet(p.property, p.combine)), ...lineageSets("r", s.lineageExtra)]
  return [
    "UNWIND $rows AS row",
    `MATCH (a:${quote(s.start.label, "label")} ${keyMap(s.start.key, "row.s")})`,
    `MATCH (b:${quote(s.end.label, "label")} ${keyMap(s.end.key, "row.e")})`,
    `MERGE (a)-[r:${quote(s.type, "relationship type")}]->(b)`,
    // Read before SET overwrites run_id: was this relationship already written by this run?
    `WITH row, r, coalesce(r.${quote(lineageProperties.runId)} = $lineage.runId, false) AS sameRun`,
    `SET ${sets.join(", ")}`,
    "RETURN count(DISTINCT row.i) AS matched"
  ].join("\n")
}

/** Returns the indices (`i`) of `$rows` whose start or end node does not exist. */
export const missingEndpointsStatement = (s: Pick<RelationshipStatement, "start" | "end">): string =>
  [
    "UNWIND $rows AS row",
    `WITH row WHERE NOT EXISTS { MATCH (a:${quote(s.start.label, "label")} ${keyMap(s.start.key, "row.s")}) }`,
    `  OR NOT EXISTS { MATCH (b:${quote(s.end.label, "label")} ${keyMap(s.end.key, "row.e")}) }`,
    "RETURN row.i AS i ORDER BY i"
  ].join("\n")

/** The deterministic name of the uniqueness constraint on (label, key). */
export const constraintName = (label: string, key: ReadonlyArray<string>): string => {
  quote(label, "label")
  for (const k of key) quote(k, "key property")
  return `polymath_${label}_${key.join("_")}_unique`
}

/** `CREATE CONSTRAINT <name> IF NOT EXISTS FOR (n:Label) REQUIRE (n.a, n.b) IS UNIQUE` (single-property form for one key). */
export const uniqueConstraintStatement = (label: string, key: ReadonlyArray<string>): string => {
  if (key.length === 0) throw invalidInput("InvalidWrite", `constraint for ${label} has no key properties`)
  const props = key.map((k) => `n.${quote(k, "key property")}`)
  const target = props.length === 1 ? props.join("") : `(${props.join(", ")})`
  return `CREATE CONSTRAINT ${quote(constraintName(label, key), "constraint name")} IF NOT EXISTS FOR (n:${quote(label, "label")}) REQUIRE ${target} IS UNIQUE`
}
