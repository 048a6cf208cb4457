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

/** The key properties of a node mapping. */
export const nodeKey = (node: NodeMappingSpec): PropertyMap => toPropertyMap(node.key)

/** A source's key columns as a list. */
export const keyColumns = (key: string | ReadonlyArray<string>): ReadonlyArray<string> => (typeof key === "string" ? [key] : key)

/** The combine rule a mapping declares for `property`, if any. */
export const combineRuleFor = (rules: CombineRulesSpec | undefined, property: string): CombineRule | undefined =>
  rules === undefined ? undefined : typeof rules === "string" ? rules : rules[property]

/** The source columns that identify a node of a mapping: its key columns. */
export const nodeIdentityColumns = (node: NodeMappingSpec): ReadonlyArray<string> => nodeKey(node).map((k) => k.column)

/** The source columns that identify a relationship: both endpoints' key columns and its `key` columns. */
export const relationshipIdentityColumns = (rel: RelationshipMappingSpec): ReadonlyArray<string> =>
  [...rel.start.key, ...rel.end.key, ...toPropertyMap(rel.key)].map((k) => k.column)

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

/** The graph mappings that write a label or a relationship type, across every graph step, as `steps.<step>.graph.<nodes|relationships>[i]`. */
export const mappingsWriting = (
  steps: Readonly<Record<string, { readonly graph?: { readonly nodes?: ReadonlyArray<NodeMappingSpec>; readonly relationships?: ReadonlyArray<RelationshipMappingSpec> } | undefined }>>,
  what: { readonly node: string } | { readonly relationship: string }
): ReadonlyArray<{ readonly step: string; readonly index: number }> =>
  Object.entries(steps).flatMap(([step, s]) => {
    const g = s.graph
    if (g === undefined) return []
    return "node" in what
      ? (g.nodes ?? []).flatMap((n, index) => (n.label === what.node ? [{ step, index }] : []))
      : (g.relationships ?? []).flatMap((r, index) => (r.type === what.relationship ? [{ step, index }] : []))
  })

/** Every label and relationship type the pipeline's graph steps write, for suggestions. */
export const graphNames = (
  steps: Readonly<Record<string, { readonly graph?: { readonly nodes?: ReadonlyArray<NodeMappingSpec>; readonly relationships?: ReadonlyArray<RelationshipMappingSpec> } | undefined }>>
): { readonly labels: ReadonlyArray<string>; readonly types: ReadonlyArray<string> } => {
  const graphs = Object.values(steps).flatMap((s) => (s.graph ? [s.graph] : []))
  return {
    labels: [...new Set(graphs.flatMap((g) => (g.nodes ?? []).map((n) => n.label)))],
    types: [...new Set(graphs.flatMap((g) => (g.relationships ?? []).map((r) => r.type)))]
  }
}
