import type { CombineRule, CombineRulesSpec, NodeMappingSpec, RelationshipMappingSpec } from "./Spec.ts"

/** property -> column, in declaration order. */
export type PropertyMap = ReadonlyArray<{ readonly property: string; readonly column: string }>

/** Normalises `[a, b]` or `{prop: column}` or a single name into property/column pairs. */
export const toPropertyMap = (p: string | ReadonlyArray<string> | Readonly<Record<string, string>> | undefined): PropertyMap => {
  if (p === undefined) return []
  if (typeof p === "string") return [{ property: p, column: p }]
  if (Array.isArray(p)) return (p as ReadonlyArray<string>).map((c) => ({ property: c, column: c }))
  return Object.entries(p as Record<string, string>).map(([property, column]) => ({ property, column }))
}

/** A relationship endpoint: the node label and the key properties MATCHed from row columns. */
export interface Endpoint {
  readonly label: string
  readonly key: PropertyMap
}

const ident = "[A-Za-z_][A-Za-z0-9_]*"
const endpointPattern = new RegExp(`^\\s*(${ident})\\s*\\(([^)]*)\\)\\s*$`)
const bareKey = new RegExp(`^\\s*(${ident})\\s*$`)
const namedKey = new RegExp(`^\\s*(${ident})\\s*:\\s*(${ident})\\s*$`)

/** Parses `Label(col)` or `Label(prop: col, ...)`; returns an error message when malformed. */
export const parseEndpoint = (spec: RelationshipMappingSpec["start"]): Endpoint | string => {
  if (typeof spec !== "string") return { label: spec.label, key: toPropertyMap(spec.key) }
  const m = endpointPattern.exec(spec)
  if (!m) return `endpoint '${spec}' must look like Label(column) or Label(property: column, ...)`
  const parts = m[2]!.split(",").filter((s) => s.trim() !== "")
  if (parts.length === 0) return `endpoint '${spec}' names no key`
  const key: Array<{ property: string; column: string }> = []
  for (const part of parts) {
    const named = namedKey.exec(part)
    const bare = bareKey.exec(part)
    if (named) key.push({ property: named[1]!, column: named[2]! })
    else if (bare) key.push({ property: bare[1]!, column: bare[1]! })
    else return `endpoint '${spec}': '${part.trim()}' is not a key (use property or property: column)`
  }
  return { label: m[1]!, key }
}

/** The key properties of a node mapping. */
export const nodeKey = (node: NodeMappingSpec): PropertyMap => toPropertyMap(node.key)

/** A source's key columns as a list. */
export const keyColumns = (key: string | ReadonlyArray<string>): ReadonlyArray<string> => (typeof key === "string" ? [key] : key)

/** The combine rule a mapping declares for `property`, if any. */
export const combineRuleFor = (rules: CombineRulesSpec | undefined, property: string): CombineRule | undefined =>
  rules === undefined ? undefined : typeof rules === "string" ? rules : rules[property]

/** The source columns that identify a node of a mapping: its key columns. */
export const nodeIdentityColumns = (node: NodeMappingSpec): ReadonlyArray<string> => nodeKey(node).map((k) => k.column)

/** The source columns that identify a relationship: both endpoints' key columns and its `key` columns; null when an endpoint is malformed. */
export const relationshipIdentityColumns = (rel: RelationshipMappingSpec): ReadonlyArray<string> | null => {
  const start = parseEndpoint(rel.start)
  const end = parseEndpoint(rel.end)
  if (typeof start === "string" || typeof end === "string") return null
  return [...start.key, ...end.key, ...toPropertyMap(rel.key)].map((k) => k.column)
}

/**
 * True when several source rows may map to one entity: the identity does not include
 * every source key column, so two distinct keys can share one identity. Such rows are
 * combined (`combine`) before writing, never silently collapsed.
 */
export const identityFoldsRows = (identity: ReadonlyArray<string>, sourceKey: ReadonlyArray<string>): boolean =>
  sourceKey.some((k) => !identity.includes(k))

const wildcard = /\*/

/**
 * Whether a query can return `column`: it names it somewhere (as a word, any case), or it
 * selects a wildcard. A heuristic for `validate`, which has no database: a column that is
 * never named cannot be in the result (the live check before a run is exact).
 */
export const sqlMayReturn = (sql: string, column: string): boolean =>
  wildcard.test(sql.replace(/count\s*\(\s*\*\s*\)/gi, "")) || new RegExp(`(^|[^A-Za-z0-9_$])${column}($|[^A-Za-z0-9_$])`, "i").test(sql)
