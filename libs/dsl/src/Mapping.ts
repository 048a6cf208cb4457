import type { NodeMappingSpec, RelationshipMappingSpec } from "./Spec.ts"

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
