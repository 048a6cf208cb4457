import { existsSync, readdirSync, readFileSync } from "node:fs"
import { basename, dirname, isAbsolute, join, relative, resolve } from "node:path"
import { error, suggest } from "./Diagnostic.ts"
import type { Diagnostic } from "./Diagnostic.ts"
import { parseLocated, pathKey, positionOf } from "./Located.ts"
import type { Located } from "./Located.ts"

/*
 * Pipeline files on disk: names resolve to `<dir>/<name>.yaml`, and a file that
 * `extends` another is read over its parent, keeping every value's position.
 */

/** Lists pipeline names in a directory (for hints). */
export const listPipelines = (dir: string): ReadonlyArray<string> =>
  existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".yaml") || f.endsWith(".yml")).map((f) => f.replace(/\.ya?ml$/, "")).sort() : []

/** `batch-v1` -> `pipelines/batch-v1.yaml`; a path stays a path. */
export const resolvePipelinePath = (ref: string, dir: string): string => {
  if (ref.includes("/") || ref.endsWith(".yaml") || ref.endsWith(".yml")) return resolve(ref)
  const yaml = join(dir, `${ref}.yaml`)
  return existsSync(yaml) || !existsSync(join(dir, `${ref}.yml`)) ? resolve(yaml) : resolve(join(dir, `${ref}.yml`))
}

/** A path as the user sees it: relative to the working directory when inside it. */
export const displayPath = (file: string): string => {
  const rel = relative(process.cwd(), file)
  return rel.startsWith("..") || isAbsolute(rel) ? file : rel
}

/** Sections whose entries a child pipeline overrides one by one; other keys are replaced whole. */
const mergedSections = new Set(["params", "connections", "sources", "steps"])

/** Reads a pipeline file and its `extends` chain into one located document, or the problems found. */
export const readLocated = (file: string, chain: ReadonlyArray<string>, dir: string): { doc: Located | null; diagnostics: Array<Diagnostic> } => {
  const shown = displayPath(file)
  if (!existsSync(file)) {
    const name = basename(file).replace(/\.ya?ml$/, "")
    return { doc: null, diagnostics: [error(null, `pipeline '${name}' not found: no file ${shown}`, suggest(name, listPipelines(dirname(file)), "pipelines"))] }
  }
  const { doc, diagnostics } = parseLocated(shown, readFileSync(file, "utf8"))
  if (diagnostics.length > 0) return { doc: null, diagnostics: [...diagnostics] }
  const value = doc.value as Record<string, unknown> | null
  const parentName = value && typeof value === "object" ? value["extends"] : undefined
  if (typeof parentName !== "string") return { doc, diagnostics: [] }
  const parentFile = resolvePipelinePath(parentName, dirname(file))
  if (chain.includes(parentFile)) {
    return { doc: null, diagnostics: [error(positionOf(doc, ["extends"]), `pipelines extend each other in a cycle: ${[...chain, parentFile].map((f) => basename(f)).join(" -> ")}`)] }
  }
  const parent = readLocated(parentFile, [...chain, file], dir)
  if (!parent.doc) {
    return { doc: null, diagnostics: parent.diagnostics.map((d) => (d.position ? d : { ...d, position: positionOf(doc, ["extends"]) })) }
  }
  return { doc: mergeLocated(parent.doc, doc), diagnostics: [] }
}

/** Child over parent: merged sections entry by entry, other keys whole; positions follow the values. */
const mergeLocated = (parent: Located, child: Located): Located => {
  const p = (parent.value ?? {}) as Record<string, unknown>
  const c = (child.value ?? {}) as Record<string, unknown>
  const value: Record<string, unknown> = { ...p }
  const values = new Map(parent.values)
  const keys = new Map(parent.keys)
  const dropPrefix = (prefix: ReadonlyArray<string>) => {
    const k = pathKey(prefix)
    for (const m of [values, keys]) for (const key of [...m.keys()]) if (key === k || key.startsWith(k + "\u0000")) m.delete(key)
  }
  for (const [key, v] of Object.entries(c)) {
    if (key === "extends") continue
    if (mergedSections.has(key) && v && typeof v === "object" && !Array.isArray(v) && p[key] && typeof p[key] === "object") {
      for (const name of Object.keys(v)) dropPrefix([key, name])
      value[key] = { ...(p[key] as object), ...(v as object) }
    } else {
      dropPrefix([key])
      value[key] = v
    }
  }
  for (const [k, pos] of child.values) if (k !== pathKey(["extends"]) && !k.startsWith(pathKey(["extends"]) + "\u0000")) values.set(k, pos)
  for (const [k, pos] of child.keys) if (k !== pathKey(["extends"])) keys.set(k, pos)
  if (child.values.has("")) values.set("", child.values.get("")!)
  return { value, values, keys }
}

