/**
 * The write statements: MERGE a batch of nodes or relationships and SET only what
 * changed, so an unchanged entity keeps its stamp, and find the rows whose endpoints
 * do not exist.
 */
import { stampProperties } from "@polymath/engine"
import { invalidWrite, nodePattern, quote, relationshipPattern, rowField } from "./Cypher.ts"
import type { NodeStatement, RelationshipShape, RelationshipStatement } from "./Cypher.ts"

const stampNames: ReadonlyArray<string> = [stampProperties.runId, stampProperties.syncedAt]

// Mapped properties must not overwrite the scope set or the stamp, or one write could erase another scope's mark.
const checkProperties = (what: string, names: ReadonlyArray<string>, scopeProperty: string): void => {
  for (const name of names) {
    quote(name, "property")
    if (name === scopeProperty || stampNames.includes(name)) {
      throw invalidWrite(`${what} maps a column to property ${name}, which is reserved for the scope or the stamp`)
    }
  }
}

// Null-safe: a stored null (absent property) equals an incoming null.
const differs = (v: string, property: string): string => {
  const p = `${v}.${quote(property, "property")}`
  const incoming = rowField("p", property)
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
    ...properties.map((p) => `${v}.${quote(p, "property")} = ${rowField("p", p)}`),
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
    `MERGE ${nodePattern("n", s, "k")}`,
    `WITH n, row, ${changedExpression("n", s.scopeProperty, properties, s.extraLabel)} AS changed`,
    writeWhenChanged(changedSets("n", s.scopeProperty, properties, s.extraLabel)),
    // MERGE of a node yields one row per input row, so a plain count is exact.
    "RETURN count(CASE WHEN changed THEN 1 END) AS changed"
  ].join("\n")
}

/**
 * `UNWIND $rows AS row MATCH (a) MATCH (b) MERGE (a)-[r:TYPE {identity...}]->(b)`, then SET
 * only on relationships whose scope or properties differ. MERGE between two bound nodes
 * locks both before creating, so concurrent writers do not create duplicates. Returns
 * `matched` (rows that found both endpoints) and `changed`.
 *
 * `uniqueEndpoints`: both endpoints' keys are under a uniqueness constraint, so a row
 * matches at most one pair and plain counts are exact. Otherwise a row may match several
 * nodes and the counts are of distinct rows, which costs Neo4j a set of row ids (about
 * 15% of the statement on 10,000-row batches); only then do the rows carry `i`.
 */
export const relationshipMergeStatement = (s: RelationshipStatement, uniqueEndpoints = false): string => {
  quote(s.scopeProperty, "scope property")
  const keySet = new Set(s.key)
  const properties = s.properties.filter((p) => !keySet.has(p))
  checkProperties(`relationship write for ${s.type}`, [...s.key, ...properties], s.scopeProperty)
  return [
    "UNWIND $rows AS row",
    `MATCH ${nodePattern("a", s.start, "s")}`,
    `MATCH ${nodePattern("b", s.end, "e")}`,
    `MERGE (a)-${relationshipPattern(s.type, s.key)}->(b)`,
    `WITH r, row, ${changedExpression("r", s.scopeProperty, properties, null)} AS changed`,
    writeWhenChanged(changedSets("r", s.scopeProperty, properties, null)),
    uniqueEndpoints
      ? "RETURN count(*) AS matched, count(CASE WHEN changed THEN 1 END) AS changed"
      : "RETURN count(DISTINCT row.i) AS matched, count(DISTINCT CASE WHEN changed THEN row.i END) AS changed"
  ].join("\n")
}

/**
 * `UNWIND $rows AS row MATCH (a) MATCH (b) CREATE (a)-[r:TYPE {identity..., properties..., scope, stamp}]->(b)`:
 * the initial load's statement, for a batch none of whose relationships can exist yet
 * (`GraphWriteOptions.initialLoad`) between endpoints whose keys are unique. It skips MERGE's
 * search for an existing relationship and the comparison of what it holds, about a fifth of a
 * MENTIONS batch in Neo4j. Returns the same `matched` and `changed` as the MERGE statement (every
 * matched row creates its relationship). A null property is not stored, as SET would remove it.
 */
// Set and removed in one statement: never stored, it only takes the start node's write lock.
const initialLoadLock = "`_polymath_initial_load_lock`"

export const relationshipCreateStatement = (s: RelationshipStatement): string => {
  quote(s.scopeProperty, "scope property")
  const keySet = new Set(s.key)
  const properties = s.properties.filter((p) => !keySet.has(p))
  checkProperties(`relationship write for ${s.type}`, [...s.key, ...properties], s.scopeProperty)
  const items = [
    ...s.key.map((k) => `${quote(k, "key property")}: ${rowField("k", k)}`),
    ...properties.map((p) => `${quote(p, "property")}: ${rowField("p", p)}`),
    `${quote(s.scopeProperty, "scope property")}: [$scope]`,
    `${quote(stampProperties.runId)}: $runId`,
    `${quote(stampProperties.syncedAt)}: datetime()`
  ]
  return [
    "UNWIND $rows AS row",
    `MATCH ${nodePattern("a", s.start, "s")}`,
    `MATCH ${nodePattern("b", s.end, "e")}`,
    // Neo4j 5 lets two transactions CREATE relationships at one node side by side (a MERGE waits
    // for either); writing a property locks the node, so two initial loads touching one start node
    // take turns and the later one's count (GraphWrites.ts) sees the earlier's relationships.
    `SET a.${initialLoadLock} = true REMOVE a.${initialLoadLock}`,
    `CREATE (a)-[r:${quote(s.type, "relationship type")} {${items.join(", ")}}]->(b)`,
    "RETURN count(*) AS matched, count(*) AS changed"
  ].join("\n")
}

/**
 * Returns, for each row of `$rows` whose start or end node does not exist, its position
 * `n` in `$rows` and which end exists (by position, so the rows need not carry `i`).
 */
export const missingEndpointsStatement = (s: Pick<RelationshipShape, "start" | "end">): string =>
  [
    "UNWIND range(0, size($rows) - 1) AS n",
    "WITH n, $rows[n] AS row",
    `WITH n, EXISTS { MATCH ${nodePattern("a", s.start, "s")} } AS hasStart, EXISTS { MATCH ${nodePattern("b", s.end, "e")} } AS hasEnd`,
    "WHERE NOT (hasStart AND hasEnd)",
    "RETURN n, hasStart, hasEnd ORDER BY n"
  ].join("\n")
