/**
 * Cypher text for the connector's statements. Labels, relationship types and
 * property names cannot be parameters, so they are validated identifiers quoted
 * with backticks; every value travels as a parameter.
 *
 * Parameters shared by the write statements: `$scope` (the scope value), `$runId`.
 * Row maps carry `i` (the row's index in the caller's batch), `k` (node key or
 * relationship identity properties), `p` (other properties) and, for relationships,
 * `s` / `e` (start and end node keys).
 */
import { stampProperties } from "@polymath/engine"
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

/** A node pattern's label and key property names, in key order. */
export interface NodeShape {
  readonly label: string
  readonly key: ReadonlyArray<string>
}

/** The shape of one node MERGE statement. */
export interface NodeStatement extends NodeShape {
  /** Non-key properties SET from the row. */
  readonly properties: ReadonlyArray<string>
  /** An extra label SET on every node of this statement (from `labelFrom`), or null. */
  readonly extraLabel: string | null
  /** The property holding the list of scope values. */
  readonly scopeProperty: string
}

/** The shape of one relationship MERGE statement. */
export interface RelationshipStatement {
  readonly type: string
  readonly start: NodeShape
  readonly end: NodeShape
  /** Identity properties, part of the MERGE pattern. */
  readonly key: ReadonlyArray<string>
  /** Other properties SET from the row. */
  readonly properties: ReadonlyArray<string>
  readonly scopeProperty: string
}

/** A relationship pattern without its properties: what scans, counts and unscoping match on. */
export type RelationshipShape = Omit<RelationshipStatement, "properties" | "scopeProperty">

const stampNames: ReadonlyArray<string> = [stampProperties.runId, stampProperties.syncedAt]

// Mapped properties must not overwrite the scope set or the stamp, or one write could erase another scope's mark.
const checkProperties = (what: string, names: ReadonlyArray<string>, scopeProperty: string): void => {
  for (const name of names) {
    quote(name, "property")
    if (name === scopeProperty || stampNames.includes(name)) {
      throw invalidInput("InvalidWrite", `${what} maps a column to property ${name}, which is reserved for the scope or the stamp`)
    }
  }
}

const propertyMap = (keys: ReadonlyArray<string>, source: string): string =>
  `{${keys.map((k) => `${quote(k, "key property")}: ${source}.${quote(k, "key property")}`).join(", ")}}`

const nodePattern = (v: string, node: NodeShape, source: string): string => {
  if (node.key.length === 0) throw invalidInput("InvalidWrite", `node pattern for ${node.label} has no key properties`)
  return `(${v}:${quote(node.label, "label")} ${propertyMap(node.key, source)})`
}

// An empty identity gives `[r:T]`: one relationship per pair of nodes.
const relationshipPattern = (type: string, key: ReadonlyArray<string>, source: string): string =>
  `[r:${quote(type, "relationship type")}${key.length === 0 ? "" : ` ${propertyMap(key, source)}`}]`

// Null-safe: a stored null (absent property) equals an incoming null.
const differs = (v: string, property: string): string => {
  const p = `${v}.${quote(property, "property")}`
  const incoming = `row.p.${quote(property, "property")}`
  return `NOT coalesce(${p} = ${incoming}, ${p} IS NULL AND ${incoming} IS NULL)`
}

/**
 * The condition under which a MERGEd entity is written: the scope is missing from its
 * set, a property differs or (nodes) the extra label is missing.
 */
const changedExpression = (v: string, scopeProperty: string, properties: ReadonlyArray<string>, extraLabel: string | null): string =>
  [
    `NOT ($scope IN coalesce(${v}.${quote(scopeProperty, "scope property")}, []))`,
    ...(extraLabel === null ? [] : [`NOT ${v}:${quote(extraLabel, "label")}`]),
    ...properties.map((p) => differs(v, p))
  ].join(" OR ")

/**
 * The SET items for a changed entity. The scope item reads the property it sets, so Neo4j
 * takes the entity's write lock before evaluating it: two writers adding different scope
 * values serialise on the lock instead of one overwriting the other's list.
 */
const changedSets = (v: string, scopeProperty: string, properties: ReadonlyArray<string>, extraLabel: string | null): string => {
  const sp = `${v}.${quote(scopeProperty, "scope property")}`
  return [
    ...properties.map((p) => `${v}.${quote(p, "property")} = row.p.${quote(p, "property")}`),
    `${sp} = CASE WHEN $scope IN coalesce(${sp}, []) THEN ${sp} ELSE coalesce(${sp}, []) + $scope END`,
    `${v}.${quote(stampProperties.runId)} = $runId`,
    `${v}.${quote(stampProperties.syncedAt)} = datetime()`,
    ...(extraLabel === null ? [] : [`${v}:${quote(extraLabel, "label")}`])
  ].join(", ")
}

// FOREACH over a zero- or one-element list is Cypher's conditional write.
const writeWhenChanged = (sets: string): string => `FOREACH (_ IN CASE WHEN changed THEN [1] ELSE [] END | SET ${sets})`

/**
 * `UNWIND $rows AS row MERGE (n:Label {key...})`, then SET only on nodes whose scope,
 * extra label or properties differ from the row. Returns `changed`: how many rows wrote
 * their node (created ones included; the summary counters tell how many were created).
 */
export const nodeMergeStatement = (s: NodeStatement): string => {
  quote(s.scopeProperty, "scope property")
  const keySet = new Set(s.key)
  const properties = s.properties.filter((p) => !keySet.has(p))
  checkProperties(`node write for ${s.label}`, [...s.key, ...properties], s.scopeProperty)
  return [
    "UNWIND $rows AS row",
    `MERGE ${nodePattern("n", s, "row.k")}`,
    `WITH n, row, ${changedExpression("n", s.scopeProperty, properties, s.extraLabel)} AS changed`,
    writeWhenChanged(changedSets("n", s.scopeProperty, properties, s.extraLabel)),
    "RETURN count(DISTINCT CASE WHEN changed THEN row.i END) AS changed"
  ].join("\n")
}

/**
 * `UNWIND $rows AS row MATCH (a) MATCH (b) MERGE (a)-[r:TYPE {identity...}]->(b)`, then SET
 * only on relationships whose scope or properties differ. MERGE between two bound nodes
 * locks both before creating, so concurrent writers do not create duplicates. Returns
 * `matched` (rows that found both endpoints) and `changed`.
 */
export const relationshipMergeStatement = (s: RelationshipStatement): string => {
  quote(s.scopeProperty, "scope property")
  const keySet = new Set(s.key)
  const properties = s.properties.filter((p) => !keySet.has(p))
  checkProperties(`relationship write for ${s.type}`, [...s.key, ...properties], s.scopeProperty)
  return [
    "UNWIND $rows AS row",
    `MATCH ${nodePattern("a", s.start, "row.s")}`,
    `MATCH ${nodePattern("b", s.end, "row.e")}`,
    `MERGE (a)-${relationshipPattern(s.type, s.key, "row.k")}->(b)`,
    `WITH r, row, ${changedExpression("r", s.scopeProperty, properties, null)} AS changed`,
    writeWhenChanged(changedSets("r", s.scopeProperty, properties, null)),
    "RETURN count(DISTINCT row.i) AS matched, count(DISTINCT CASE WHEN changed THEN row.i END) AS changed"
  ].join("\n")
}

/** Returns, for each row of `$rows` whose start or end node does not exist, `i` and which end exists. */
export const missingEndpointsStatement = (s: Pick<RelationshipShape, "start" | "end">): string =>
  [
    "UNWIND $rows AS row",
    `WITH row, EXISTS { MATCH ${nodePattern("a", s.start, "row.s")} } AS hasStart, EXISTS { MATCH ${nodePattern("b", s.end, "row.e")} } AS hasEnd`,
    "WHERE NOT (hasStart AND hasEnd)",
    "RETURN row.i AS i, hasStart, hasEnd ORDER BY i"
  ].join("\n")

const scoped = (v: string, scopeProperty: string): string => `$scope IN ${v}.${quote(scopeProperty, "scope property")}`

const keyList = (v: string, key: ReadonlyArray<string>): ReadonlyArray<string> => key.map((k) => `${v}.${quote(k, "key property")}`)

// Identity values arrive as a list `id`: positions follow the key order of `keyList`.
const indexedMap = (keys: ReadonlyArray<string>, offset: number): string =>
  `{${keys.map((k, j) => `${quote(k, "key property")}: id[${offset + j}]`).join(", ")}}`

const relationshipMatch = (s: RelationshipShape, identity: boolean): string => {
  if (!identity) {
    return `MATCH (a:${quote(s.start.label, "label")})-${relationshipPattern(s.type, [], "")}->(b:${quote(s.end.label, "label")})`
  }
  if (s.start.key.length === 0 || s.end.key.length === 0) {
    throw invalidInput("InvalidWrite", `relationship pattern for ${s.type} has an endpoint without key properties`)
  }
  const r = `[r:${quote(s.type, "relationship type")}${s.key.length === 0 ? "" : ` ${indexedMap(s.key, s.start.key.length + s.end.key.length)}`}]`
  return `MATCH (a:${quote(s.start.label, "label")} ${indexedMap(s.start.key, 0)})-${r}->(b:${quote(s.end.label, "label")} ${indexedMap(s.end.key, s.start.key.length)})`
}

/** Streams `id`: the key values of every node of the label that holds `$scope`. */
export const nodeScanStatement = (s: NodeShape, scopeProperty: string): string =>
  `MATCH (n:${quote(s.label, "label")}) WHERE ${scoped("n", scopeProperty)} RETURN [${keyList("n", s.key).join(", ")}] AS id`

/** Streams `id`: start key, end key and identity values of every relationship that holds `$scope`. */
export const relationshipScanStatement = (s: RelationshipShape, scopeProperty: string): string =>
  `${relationshipMatch(s, false)} WHERE ${scoped("r", scopeProperty)} RETURN [${[...keyList("a", s.start.key), ...keyList("b", s.end.key), ...keyList("r", s.key)].join(", ")}] AS id`

/** Counts the nodes of the label that hold `$scope`, as `count`. */
export const nodeCountStatement = (s: Pick<NodeShape, "label">, scopeProperty: string): string =>
  `MATCH (n:${quote(s.label, "label")}) WHERE ${scoped("n", scopeProperty)} RETURN count(n) AS count`

/** Counts the relationships of the pattern that hold `$scope`, as `count`. */
export const relationshipCountStatement = (s: RelationshipShape, scopeProperty: string): string =>
  `${relationshipMatch(s, false)} WHERE ${scoped("r", scopeProperty)} RETURN count(r) AS count`

// The list is rebuilt from the property itself, so the SET locks the entity before reading it.
const removeScope = (v: string, scopeProperty: string): string => {
  const sp = `${v}.${quote(scopeProperty, "scope property")}`
  return `SET ${sp} = [x IN ${sp} WHERE x <> $scope]`
}

/**
 * For each identity in `$ids` that exists and holds `$scope`: removes the scope, then deletes
 * the node when its set became empty and it has no relationships. Plain DELETE, never DETACH:
 * a relationship created meanwhile makes the statement fail rather than vanish.
 * Returns `deleted` and `unscoped` (kept).
 */
export const nodeUnscopeStatement = (s: NodeShape, scopeProperty: string): string => {
  const sp = `n.${quote(scopeProperty, "scope property")}`
  return [
    "UNWIND $ids AS id",
    `MATCH (n:${quote(s.label, "label")} ${indexedMap(s.key, 0)})`,
    `WHERE ${scoped("n", scopeProperty)}`,
    removeScope("n", scopeProperty),
    `WITH n, size(${sp}) = 0 AND NOT EXISTS { (n)--() } AS gone`,
    "FOREACH (_ IN CASE WHEN gone THEN [1] ELSE [] END | DELETE n)",
    "RETURN count(CASE WHEN gone THEN 1 END) AS deleted, count(CASE WHEN gone THEN null ELSE 1 END) AS unscoped"
  ].join("\n")
}

/** Like `nodeUnscopeStatement` for relationships, which are deleted whenever their set became empty. */
export const relationshipUnscopeStatement = (s: RelationshipShape, scopeProperty: string): string => {
  const sp = `r.${quote(scopeProperty, "scope property")}`
  return [
    "UNWIND $ids AS id",
    relationshipMatch(s, true),
    `WHERE ${scoped("r", scopeProperty)}`,
    removeScope("r", scopeProperty),
    `WITH r, size(${sp}) = 0 AS gone`,
    "FOREACH (_ IN CASE WHEN gone THEN [1] ELSE [] END | DELETE r)",
    "RETURN count(CASE WHEN gone THEN 1 END) AS deleted, count(CASE WHEN gone THEN null ELSE 1 END) AS unscoped"
  ].join("\n")
}

/** Deletes up to `$limit` nodes of the label whose scope set is empty and that have no relationships; returns `deleted`. */
export const orphanDeleteStatement = (s: Pick<NodeShape, "label">, scopeProperty: string): string =>
  [
    `MATCH (n:${quote(s.label, "label")})`,
    `WHERE n.${quote(scopeProperty, "scope property")} = [] AND NOT EXISTS { (n)--() }`,
    "WITH n LIMIT $limit",
    "DELETE n",
    "RETURN count(*) AS deleted"
  ].join("\n")

/** Identifies the database: `name`, `id`, `creationDate`. */
export const databaseInfoStatement = "CALL db.info() YIELD id, name, creationDate RETURN id, name, toString(creationDate) AS creationDate"

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
