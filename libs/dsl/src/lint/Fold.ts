import { error, suggest, warning } from "../Diagnostic.ts"
import type { Path } from "../Located.ts"
import { combineRuleFor, identityFoldsRows, keyColumns } from "../Mapping.ts"
import type { CombineRulesSpec, GraphSpec } from "../Spec.ts"
import type { Checker } from "./Checker.ts"

/*
 * What a graph step may assume of its rows: the scope its writes carry (lineage),
 * whether it may delete what the source no longer yields (mirroring), and how rows
 * that map to one entity are folded into it (combine).
 */

/** The step's lineage: one property with a value; returns its name(s) for the mapping rules. */
export const lintLineage = (c: Checker, g: GraphSpec, p: Path): ReadonlyArray<string> => {
  const { out, at } = c
  const lineage = Object.keys(g.lineage ?? {})
  if (lineage.length > 1) {
    out.push(error(at([...p, "lineage"]), `lineage names the scope of this step's writes and takes one property (a set of scope values on every entity), got ${lineage.length}`, "e.g. lineage: { extractor_versions: \"${params.extractor_version}\" }"))
  }
  for (const name of lineage) {
    if (name === "run_id" || name === "synced_at") out.push(error(at([...p, "lineage", name], "key"), `lineage property '${name}' is the name of a stamp every write sets; choose another`))
    const value = g.lineage![name]
    if (value === null || value === "") out.push(error(at([...p, "lineage", name]), `lineage ${name} has no value, so this step's writes would have no scope`, "give it a value, e.g. \"${params.extractor_version}\" (and check the param is set)"))
  }
  return lineage
}

/** Mirroring deletes what the source no longer yields, so it needs the whole source, never an increment. */
export const lintMirror = (c: Checker, g: GraphSpec, sourceName: string, onMissing: string | undefined, path: Path): void => {
  if ((onMissing ?? g.on_missing) === "delete" && c.spec.sources[sourceName]?.incremental !== undefined) {
    c.out.push(error(c.at(path), `on_missing: delete needs the complete source, but '${sourceName}' is incremental (it yields only rows changed since the last run)`, "read this mapping from a source without incremental, or keep on_missing: keep"))
  }
}

/** `combine` may name only properties the mapping writes. */
export const lintCombineNames = (c: Checker, rules: CombineRulesSpec | undefined, properties: ReadonlyArray<string>, owner: string, path: Path): void => {
  if (typeof rules !== "object") return
  for (const prop of Object.keys(rules)) {
    if (!properties.includes(prop)) c.out.push(error(c.at([...path, "combine", prop], "key"), `combine names '${prop}', which is not a property of ${owner}`, suggest(prop, properties, "properties")))
  }
}

/**
 * Rows fold into one entity when its identity leaves out part of the source key; then
 * each property needs a rule, and the rows must all be read in one run.
 */
export const lintCombine = (c: Checker, what: string, sourceName: string, identity: ReadonlyArray<string>, properties: ReadonlyArray<string>, rules: CombineRulesSpec | undefined, path: Path, hint: string): void => {
  const { out, at } = c
  const source = c.spec.sources[sourceName]
  if (!source) return
  const sourceKey = keyColumns(source.key)
  if (!identityFoldsRows(identity, sourceKey)) {
    if (rules !== undefined) out.push(warning(at([...path, "combine"], "key"), `combine has no effect: each row of source '${sourceName}' is its own ${what} (its identity includes the source key)`))
    return
  }
  if (source.incremental !== undefined) {
    out.push(error(at(path), `several rows of source '${sourceName}' can map to one ${what}, but the source is incremental: rows of one ${what} may arrive in different runs, and combining needs them together`, "make the identity include the source key, or read this mapping from a source without incremental"))
    return
  }
  const missing = properties.filter((prop) => combineRuleFor(rules, prop) === undefined)
  if (missing.length > 0) {
    const left = sourceKey.filter((k) => !identity.includes(k))
    out.push(error(at(path), `several rows of source '${sourceName}' can map to one ${what}: its identity (${identity.join(", ")}) leaves out source key column${left.length > 1 ? "s" : ""} ${left.join(", ")}, and ${missing.map((m) => `'${m}'`).join(", ")} ${missing.length > 1 ? "have" : "has"} no combine rule`, hint))
  }
}
