import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
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
  existsSync(dir) ? readdirSync(dir).filter((f) => (f.endsWith(".yaml") || f.endsWith(".yml")) && !/\.test\.ya?ml$/.test(f)).map((f) => f.replace(/\.ya?ml$/, "")).sort() : []

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
const mergedSections = new Set(["params", "connections", "sources", "steps", "searches"])

/**
 * Pipeline files are configuration, a few kilobytes (batch-v1 is 6 KiB); a bigger one is
 * refused before it is read, so a bad file is always answered in bounded time: the YAML
 * parser alone needs about 9 s for 5 MB on a slow 2-core machine, and about 1 s for
 * 256 KiB of the densest YAML (tools/bench/dsl-load.ts).
 */
export const maxPipelineFileBytes = 256 * 1024

const startOf = (file: string) => ({ file, line: 1, col: 1 })

/** The 1-based line and column of a byte offset in a buffer (for problems found before decoding). */
const bytePosition = (file: string, bytes: Buffer, offset: number) => {
  let line = 1
  let lineStart = 0
  for (let i = bytes.indexOf(10); i !== -1 && i < offset; i = bytes.indexOf(10, i + 1)) {
    line++
    lineStart = i + 1
  }
  return { file, line, col: offset - lineStart + 1 }
}

const utf8 = new TextDecoder("utf-8", { fatal: true })

/**
 * A pipeline file's text, or why it cannot be one: too big, not readable, or not UTF-8
 * (UTF-16 and UTF-32 files, from some Windows editors, are told apart by their BOM or NULs).
 */
const readText = (file: string, shown: string): string | Diagnostic => {
  try {
    const size = statSync(file).size
    if (size > maxPipelineFileBytes) {
      return error(startOf(shown), `the file is ${size >= 1024 * 1024 ? `${(size / 1024 / 1024).toFixed(1)} MiB` : `${Math.ceil(size / 1024)} KiB`}; a pipeline file may be at most ${maxPipelineFileBytes / 1024} KiB`, "move data out of the pipeline file; params hold settings, not data")
    }
    const bytes = readFileSync(file)
    const utf16 = (bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)
    const nul = bytes.indexOf(0)
    if (utf16 || nul !== -1) {
      return error(utf16 ? startOf(shown) : bytePosition(shown, bytes, nul), `the file is not UTF-8 text (${utf16 || nul < 4 ? "it looks like UTF-16 or UTF-32" : "it holds a NUL byte"}); pipeline files must be UTF-8`, "save it as UTF-8, e.g. iconv -f UTF-16 -t UTF-8")
    }
    try {
      return utf8.decode(bytes)
    } catch {
      const text = bytes.toString("utf8")
      const bad = Buffer.byteLength(text.slice(0, text.indexOf("\uFFFD")), "utf8")
      return error(bytePosition(shown, bytes, bad), "the file is not valid UTF-8 here; pipeline files must be UTF-8", "save it as UTF-8")
    }
  } catch (e) {
    const code = (e as { code?: unknown }).code
    return error(startOf(shown), `cannot read the file${typeof code === "string" ? ` (${code === "EISDIR" ? "it is a directory" : code})` : ""}`)
  }
}

/** Reads a pipeline file and its `extends` chain into one located document, or the problems found. */
export const readLocated = (file: string, chain: ReadonlyArray<string>, dir: string): { doc: Located | null; diagnostics: Array<Diagnostic> } => {
  const shown = displayPath(file)
  if (!existsSync(file)) {
    const name = basename(file).replace(/\.ya?ml$/, "")
    return { doc: null, diagnostics: [error(null, `pipeline '${name}' not found: no file ${shown}`, suggest(name, listPipelines(dirname(file)), "pipelines"))] }
  }
  const text = readText(file, shown)
  if (typeof text !== "string") return { doc: null, diagnostics: [text] }
  const { doc, diagnostics } = parseLocated(shown, text)
  if (diagnostics.some((d) => d.severity === "error")) return { doc: null, diagnostics: [...diagnostics] }
  const value = doc.value as Record<string, unknown> | null
  const parentName = value && typeof value === "object" ? value["extends"] : undefined
  if (parentName !== undefined && parentName !== null && typeof parentName !== "string") {
    return { doc: null, diagnostics: [error(positionOf(doc, ["extends"]), `extends must name one pipeline, got ${Array.isArray(parentName) ? "a list" : typeof parentName === "object" ? "a map" : typeof parentName}`, "e.g. extends: batch-v1")] }
  }
  if (typeof parentName !== "string") return { doc, diagnostics: [...diagnostics] }
  const parentFile = resolvePipelinePath(parentName, dirname(file))
  const seen = [...chain, file]
  if (seen.includes(parentFile)) {
    const cycle = [...seen.slice(seen.indexOf(parentFile)), parentFile].map((f) => basename(f)).join(" -> ")
    return { doc: null, diagnostics: [error(positionOf(doc, ["extends"]), `pipelines extend each other in a cycle: ${cycle}`, "one pipeline of the cycle must not extend another")] }
  }
  const parent = readLocated(parentFile, seen, dir)
  if (!parent.doc) {
    return { doc: null, diagnostics: parent.diagnostics.map((d) => (d.position ? d : { ...d, position: positionOf(doc, ["extends"]) })) }
  }
  return { doc: mergeLocated(parent.doc, doc), diagnostics: [...parent.diagnostics, ...diagnostics] }
}

/** Child over parent: merged sections entry by entry, other keys whole; positions follow the values. */
const mergeLocated = (parent: Located, child: Located): Located => {
  const p = (parent.value ?? {}) as Record<string, unknown>
  const c = (child.value ?? {}) as Record<string, unknown>
  const value: Record<string, unknown> = { ...p }
  const values = new Map(parent.values)
  const keys = new Map(parent.keys)
  const spans = new Map(parent.spans)
  // Positions under a replaced part are dropped in one pass (per key it would be quadratic).
  const dropped = new Set<string>()
  for (const [key, v] of Object.entries(c)) {
    if (key === "extends") continue
    if (mergedSections.has(key) && v && typeof v === "object" && !Array.isArray(v) && p[key] && typeof p[key] === "object") {
      for (const name of Object.keys(v)) dropped.add(pathKey([key, name]))
      value[key] = { ...(p[key] as object), ...(v as object) }
    } else {
      dropped.add(pathKey([key]))
      value[key] = v
    }
  }
  const isDropped = (k: string): boolean => {
    const first = k.indexOf("\u0000")
    if (dropped.has(first === -1 ? k : k.slice(0, first))) return true
    if (first === -1) return false
    const second = k.indexOf("\u0000", first + 1)
    return dropped.has(second === -1 ? k : k.slice(0, second))
  }
  for (const m of [values, keys, spans]) for (const k of [...m.keys()]) if (isDropped(k)) m.delete(k)
  for (const [k, pos] of child.values) if (k !== pathKey(["extends"]) && !k.startsWith(pathKey(["extends"]) + "\u0000")) values.set(k, pos)
  for (const [k, pos] of child.keys) if (k !== pathKey(["extends"])) keys.set(k, pos)
  for (const [k, span] of child.spans) spans.set(k, span)
  if (child.values.has("")) values.set("", child.values.get("")!)
  return { value, values, keys, spans }
}

