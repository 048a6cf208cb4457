/**
 * The statements `trace` reads the graph with: nodes of a label by (a prefix of) their key,
 * and the relationships of a type at given nodes of one end, whatever scope they hold, each
 * with whether it holds `$scope`.
 */
import { quote, relationshipPattern } from "./Cypher.ts"
import type { NodeShape, RelationshipShape } from "./Cypher.ts"
import { indexedMap, keyList } from "./ScopeStatements.ts"

const holds = (v: string, scopeProperty: string): string => `$scope IN coalesce(${v}.${quote(scopeProperty, "scope property")}, [])`

/**
 * `id` and `inScope` of each node of the label whose first `prefix` key properties are each
 * one of the values `m[i]` lists, for every `m` in `$match` (a key value may be given as
 * several candidates, e.g. the text a user typed and the integer it spells).
 */
export const findNodesStatement = (s: NodeShape, prefix: number, scopeProperty: string): string => {
  const conditions = s.key.slice(0, prefix).map((k, i) => `n.${quote(k, "key property")} IN m[${i}]`)
  return [
    "UNWIND $match AS m",
    `MATCH (n:${quote(s.label, "label")})`,
    ...(conditions.length === 0 ? [] : [`WHERE ${conditions.join(" AND ")}`]),
    `RETURN DISTINCT [${keyList("n", s.key).join(", ")}] AS id, ${holds("n", scopeProperty)} AS inScope`
  ].join("\n")
}

/** `id` (start key, end key, identity values) and `inScope` of every relationship of the pattern at the nodes of one end listed in `$ids`. */
export const relationshipsAtStatement = (s: RelationshipShape, side: "start" | "end", scopeProperty: string): string => {
  const a = `(a:${quote(s.start.label, "label")}${side === "start" ? ` ${indexedMap(s.start.key, 0)}` : ""})`
  const b = `(b:${quote(s.end.label, "label")}${side === "end" ? ` ${indexedMap(s.end.key, 0)}` : ""})`
  return [
    "UNWIND $ids AS id",
    `MATCH ${a}-${relationshipPattern(s.type, [])}->${b}`,
    `RETURN [${[...keyList("a", s.start.key), ...keyList("b", s.end.key), ...keyList("r", s.key)].join(", ")}] AS id, ${holds("r", scopeProperty)} AS inScope`
  ].join("\n")
}
