import { error, suggest } from "../Diagnostic.ts"
import type { Path } from "../Located.ts"
import { identityFoldsRows, keyColumns, nodeIdentityColumns, nodeKey, relationshipIdentityColumns, toPropertyMap } from "../Mapping.ts"
import type { GraphSpec, NodeMappingSpec, RelationshipMappingSpec } from "../Spec.ts"
import type { Checker } from "./Checker.ts"
import { lintCombine, lintCombineNames, lintLineage, lintMirror } from "./Fold.ts"

/** Node label -> its key properties, as the step's node mappings declare them. */
type NodeKeys = Map<string, ReadonlyArray<string>>

/** A graph step: a neo4j connection, a scope, and mappings whose columns, keys and endpoints agree. */
export const lintGraph = (c: Checker, stepName: string, g: GraphSpec, p: Path): void => {
  c.requireConnection(g.connection, "neo4j", [...p, "connection"])
  const lineage = lintLineage(c, g, p)
  const nodeKeys: NodeKeys = new Map()
  for (const [i, node] of (g.nodes ?? []).entries()) lintNode(c, g, node, [...p, "nodes", i], lineage, nodeKeys)
  for (const [i, rel] of (g.relationships ?? []).entries()) lintRelationship(c, g, rel, [...p, "relationships", i], lineage, nodeKeys)
  if ((g.nodes ?? []).length === 0 && (g.relationships ?? []).length === 0) {
    c.out.push(error(c.at(p, "key"), `graph step '${stepName}' writes no nodes and no relationships`))
  }
  lintSweepGroups(c, g, p)
}

/**
 * The mappings of one label (or of one relationship type between two labels) in a step are one
 * sweep group: the sweep removes what none of them read, as an entity does not record which mapping
 * wrote it. Mappings of a group that disagree on `on_missing` would have a `keep` mapping's entities
 * deleted by another mapping's sweep, so they are refused.
 */
const lintSweepGroups = (c: Checker, g: GraphSpec, p: Path): void => {
  const first = new Map<string, { readonly onMissing: string; readonly where: string }>()
  const check = (group: string, what: string, onMissing: string | undefined, mp: Path, where: string) => {
    const om = onMissing ?? g.on_missing ?? "keep"
    const prev = first.get(group)
    if (prev === undefined) {
      first.set(group, { onMissing: om, where })
      return
    }
    if (prev.onMissing === om) return
    c.out.push(error(
      c.at(onMissing !== undefined ? [...mp, "on_missing"] : mp),
      `${what} is mapped with on_missing: ${prev.onMissing} at ${prev.where} and on_missing: ${om} here; a sweep cannot tell which mapping wrote an entity, so it would delete what the keep mapping wrote`,
      `give every mapping of ${what} in this step the same on_missing`
    ))
  }
  for (const [i, node] of (g.nodes ?? []).entries()) {
    check(JSON.stringify(["nodes", node.label]), `label ${node.label}`, node.on_missing, [...p, "nodes", i], `nodes[${i}]`)
  }
  // One relationship type between two labels also needs one key: a MERGE without `role` matches
  // every relationship another mapping keyed by `role` wrote between the same nodes.
  const relKeys = new Map<string, { readonly key: ReadonlyArray<string>; readonly where: string }>()
  for (const [i, rel] of (g.relationships ?? []).entries()) {
    const group = JSON.stringify(["relationships", rel.type, rel.start.label, rel.end.label])
    const what = `${rel.type} from ${rel.start.label} to ${rel.end.label}`
    check(group, what, rel.on_missing, [...p, "relationships", i], `relationships[${i}]`)
    const key = toPropertyMap(rel.key).map((k) => k.property).sort()
    const prev = relKeys.get(group)
    if (prev === undefined) relKeys.set(group, { key, where: `relationships[${i}]` })
    else if (prev.key.join(",") !== key.join(",")) {
      c.out.push(error(
        c.at(rel.key !== undefined ? [...p, "relationships", i, "key"] : [...p, "relationships", i]),
        `${what} is keyed by (${prev.key.join(", ")}) at ${prev.where} and by (${key.join(", ")}) here; one relationship type between two labels needs one key`
      ))
    }
  }
}

const lintNode = (c: Checker, g: GraphSpec, node: NodeMappingSpec, np: Path, lineage: ReadonlyArray<string>, nodeKeys: NodeKeys): void => {
  const { spec, out, at } = c
  c.requireSource(node.from, [...np, "from"])
  const key = nodeKey(node).map((k) => k.property)
  const prev = nodeKeys.get(node.label)
  if (prev && prev.join(",") !== key.join(",")) {
    out.push(error(at([...np, "key"]), `label ${node.label} is keyed by (${prev.join(", ")}) elsewhere; one label needs one key`))
  }
  nodeKeys.set(node.label, key)
  const propMap = toPropertyMap(node.properties)
  const props = propMap.map((x) => x.property)
  for (const k of key) if (props.includes(k)) out.push(error(at([...np, "properties"]), `property '${k}' is part of the key of ${node.label}; list it only under key`))
  for (const k of lineage) if (props.includes(k) || key.includes(k)) out.push(error(at([...np, "properties"]), `property '${k}' of ${node.label} is also the step's lineage property`))
  for (const k of nodeKey(node)) c.requireColumn(node.from, k.column, [...np, "key"], `key ${k.property} of ${node.label}`)
  for (const k of propMap) c.requireColumn(node.from, k.column, [...np, "properties"], `property ${k.property} of ${node.label}`)
  const lf = node.labels_from
  const lfColumn = lf === undefined ? undefined : typeof lf === "string" ? lf : lf.column
  if (lfColumn !== undefined) c.requireColumn(node.from, lfColumn, [...np, "labels_from"], `labels_from of ${node.label}`)
  lintCombineNames(c, node.combine, props, node.label, np)
  const identity = nodeIdentityColumns(node)
  const source = spec.sources[node.from]
  if (lfColumn !== undefined && source && identityFoldsRows(identity, keyColumns(source.key)) && !identity.includes(lfColumn)) {
    out.push(error(at([...np, "labels_from"]), `labels_from column '${lfColumn}' must be part of the key of ${node.label}: several rows of source '${node.from}' can map to one node`))
  }
  lintCombine(c, `${node.label} node`, node.from, identity, props, node.combine, np, `make the source return one row per ${node.label} (SELECT DISTINCT or GROUP BY, with key: ${identity.join(", ")}), or declare combine (e.g. combine: last)`)
  lintMirror(c, g, node.from, node.on_missing, node.on_missing !== undefined ? [...np, "on_missing"] : [...np, "from"])
  const vi = node.vector_index
  if (vi !== undefined && !props.includes(vi.property)) {
    out.push(error(at([...np, "vector_index", "property"]), `vector_index property '${vi.property}' is not a property of ${node.label}`, props.length > 0 ? `its properties: ${props.join(", ")}` : "list it under properties"))
  }
}

/** Each endpoint names a label a node mapping of the step writes, matched on exactly that label's key. */
const lintEndpoints = (c: Checker, rel: RelationshipMappingSpec, rp: Path, nodeKeys: NodeKeys): boolean => {
  let ok = true
  for (const end of ["start", "end"] as const) {
    const ep = rel[end]
    const key = nodeKeys.get(ep.label)
    if (!key) {
      c.out.push(error(c.at([...rp, end]), `relationship ${rel.type} ${end}s at ${ep.label}, which no node mapping in this step writes`, suggest(ep.label, [...nodeKeys.keys()], "labels")))
      ok = false
    } else if (ep.key.map((k) => k.property).sort().join(",") !== [...key].sort().join(",")) {
      c.out.push(error(c.at([...rp, end]), `${ep.label} is keyed by (${key.join(", ")}), but this endpoint matches on (${ep.key.map((k) => k.property).join(", ")})`))
      ok = false
    }
    for (const k of ep.key) c.requireColumn(rel.from, k.column, [...rp, end], `${end} of ${rel.type}`)
  }
  return ok
}

const lintRelationship = (c: Checker, g: GraphSpec, rel: RelationshipMappingSpec, rp: Path, lineage: ReadonlyArray<string>, nodeKeys: NodeKeys): void => {
  const { out, at } = c
  c.requireSource(rel.from, [...rp, "from"])
  const endpointsOk = lintEndpoints(c, rel, rp, nodeKeys)
  const propMap = toPropertyMap(rel.properties)
  const props = propMap.map((x) => x.property)
  for (const k of toPropertyMap(rel.key)) {
    if (props.includes(k.property)) out.push(error(at([...rp, "key"]), `property '${k.property}' of ${rel.type} is part of its key; list it only under key`))
    if (lineage.includes(k.property)) out.push(error(at([...rp, "key"]), `property '${k.property}' of ${rel.type} is also the step's lineage property`))
    c.requireColumn(rel.from, k.column, [...rp, "key"], `key ${k.property} of ${rel.type}`)
  }
  for (const k of lineage) if (props.includes(k)) out.push(error(at([...rp, "properties"]), `property '${k}' of ${rel.type} is also the step's lineage property`))
  for (const k of propMap) c.requireColumn(rel.from, k.column, [...rp, "properties"], `property ${k.property} of ${rel.type}`)
  lintCombineNames(c, rel.combine, props, rel.type, rp)
  // The identity is only meaningful once both endpoints match their labels' keys.
  if (endpointsOk) {
    lintCombine(c, `${rel.type} relationship`, rel.from, relationshipIdentityColumns(rel), props, rel.combine, rp, `declare key: [...] with the columns that tell such rows apart (e.g. key: [role] for one ${rel.type} per role), make the source return one row per relationship, or declare combine`)
  }
  lintMirror(c, g, rel.from, rel.on_missing, rel.on_missing !== undefined ? [...rp, "on_missing"] : [...rp, "from"])
}
