/**
 * The statements that read and shrink a scope: stream or count the identities that hold
 * it, remove it from given identities (deleting what no scope holds any more) and sweep
 * nodes left orphaned by earlier removals.
 */
import { invalidWrite, quote, relationshipPattern, scoped } from "./Cypher.ts"
import type { NodeShape, RelationshipShape } from "./Cypher.ts"

export const keyList = (v: string, key: ReadonlyArray<string>): ReadonlyArray<string> => key.map((k) => `${v}.${quote(k, "key property")}`)

// Identity values arrive as a list `id`: positions follow the key order of `keyList`.
export const indexedMap = (keys: ReadonlyArray<string>, offset: number): string =>
  `{${keys.map((k, j) => `${quote(k, "key property")}: id[${offset + j}]`).join(", ")}}`

const relationshipMatch = (s: RelationshipShape, identity: boolean): string => {
  if (!identity) {
    return `MATCH (a:${quote(s.start.label, "label")})-${relationshipPattern(s.type, [])}->(b:${quote(s.end.label, "label")})`
  }
  if (s.start.key.length === 0 || s.end.key.length === 0) {
    throw invalidWrite(`relationship pattern for ${s.type} has an endpoint without key properties`)
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

/** `held`: whether any node of the label holds `$scope` (stops at the first). */
export const nodeHoldsStatement = (s: Pick<NodeShape, "label">, scopeProperty: string): string =>
  `RETURN EXISTS { MATCH (n:${quote(s.label, "label")}) WHERE ${scoped("n", scopeProperty)} } AS held`

/** `count`: the relationships of the type in the whole graph, which Neo4j reads from its count store. */
export const relationshipTypeCountStatement = (type: string): string =>
  `MATCH ()-[r:${quote(type, "relationship type")}]->() RETURN count(r) AS count`

/** `held`: whether any relationship of the pattern holds `$scope` (stops at the first). */
export const relationshipHoldsStatement = (s: RelationshipShape, scopeProperty: string): string =>
  `RETURN EXISTS { ${relationshipMatch(s, false)} WHERE ${scoped("r", scopeProperty)} } AS held`

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
