import { createHash } from "node:crypto"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { basename, dirname, isAbsolute, join, relative, resolve } from "node:path"
import { Effect, Redacted } from "effect"
import { decodeSpec } from "./Decode.ts"
import { error, SpecError, suggest } from "./Diagnostic.ts"
import type { Diagnostic } from "./Diagnostic.ts"
import { applyOverrides, interpolate } from "./Interpolate.ts"
import { lint } from "./Lint.ts"
import type { ModelFacts } from "./Lint.ts"
import { parseLocated, pathKey, positionOf } from "./Located.ts"
import type { Located } from "./Located.ts"
import type { PipelineSpec, ScalarValue } from "./Spec.ts"

export interface LoadOptions {
  /** `key=value` param overrides, as from `--set`. */
  readonly set?: ReadonlyArray<string>
  readonly env?: Readonly<Record<string, string | undefined>>
  /** Where pipeline names resolve (`<dir>/<name>.yaml`); default `pipelines` under the working directory. */
  readonly pipelinesDir?: string
  /** Lint without a runtime environment: missing env variables are warnings. */
  readonly allowMissingEnv?: boolean
  /** The model registry, for model-name and dimension checks. */
  readonly models?: ReadonlyMap<string, ModelFacts>
}

/** A pipeline ready to compile: decoded, interpolated, linted. */
export interface LoadedPipeline {
  readonly spec: PipelineSpec
  readonly params: Readonly<Record<string, ScalarValue>>
  /** The file the user named, relative to the working directory. */
  readonly file: string
  /** Hash of the resolved spec without secrets: a resumed run must have the same one. */
  readonly specHash: string
  readonly warnings: ReadonlyArray<Diagnostic>
  readonly located: Located
}

/** Lists pipeline names in a directory (for hints). */
export const listPipelines = (dir: string): ReadonlyArray<string> =>
  existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".yaml") || f.endsWith(".yml")).map((f) => f.replace(/\.ya?ml$/, "")).sort() : []

/** `batch-v1` -> `pipelines/batch-v1.yaml`; a path stays a path. */
export const resolvePipelinePath = (ref: string, dir: string): string => {
  if (ref.includes("/") || ref.endsWith(".yaml") || ref.endsWith(".yml")) return resolve(ref)
  const yaml = join(dir, `${ref}.yaml`)
  return existsSync(yaml) || !existsSync(join(dir, `${ref}.yml`)) ? resolve(yaml) : resolve(join(dir, `${ref}.yml`))
}

const display = (file: string): string => {
  const rel = relative(process.cwd(), file)
  return rel.startsWith("..") || isAbsolute(rel) ? file : rel
}

/** Sections whose entries a child pipeline overrides one by one; other keys are replaced whole. */
const mergedSections = new Set(["params", "connections", "sources", "steps"])

const readLocated = (file: string, chain: ReadonlyArray<string>, dir: string): { doc: Located | null; diagnostics: Array<Diagnostic> } => {
  const shown = display(file)
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

const canonical = (v: unknown): unknown => {
  if (Redacted.isRedacted(v)) return "<redacted>"
  if (Array.isArray(v)) return v.map(canonical)
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]))
  return v
}

/** Hash of the resolved spec; connections are left out so moving a database does not orphan a run. */
const hashSpec = (spec: PipelineSpec): string => {
  const { connections: _c, description: _d, verify: _v, ...rest } = spec
  return createHash("sha256").update(JSON.stringify(canonical(rest))).digest("hex").slice(0, 16)
}

const samePlace = (a: Diagnostic, b: Diagnostic) =>
  a.position !== null && b.position !== null && a.position.file === b.position.file && a.position.line === b.position.line && a.position.col === b.position.col

/**
 * Cross-checks a file that failed schema decoding too, so one pass reports both
 * kinds of problem. Lint assumes decoded shapes; where the malformed parts trip
 * it up, its findings are dropped, as are findings at a place the schema already flagged.
 */
const bestEffortLint = (value: unknown, context: Parameters<typeof lint>[1], schemaProblems: ReadonlyArray<Diagnostic>): ReadonlyArray<Diagnostic> => {
  const v = value as Record<string, unknown> | null
  const isMap = (x: unknown) => x !== null && typeof x === "object" && !Array.isArray(x)
  if (!isMap(v) || !isMap(v!["connections"]) || !isMap(v!["sources"]) || !isMap(v!["steps"])) return []
  try {
    return lint(v as unknown as PipelineSpec, context).filter((d) => d.severity === "error" && !schemaProblems.some((s) => samePlace(s, d)))
  } catch {
    return []
  }
}

/**
 * Loads a pipeline by name or path: YAML with positions, `extends`, params with
 * `--set` overrides, `${...}` interpolation, schema decoding and lint. Fails with
 * every problem found, each at its file:line:col.
 */
export const loadPipeline = (ref: string, options: LoadOptions = {}): Effect.Effect<LoadedPipeline, SpecError> =>
  Effect.suspend(() => {
    const dir = options.pipelinesDir ?? join(process.cwd(), "pipelines")
    const file = resolvePipelinePath(ref, dir)
    const read = readLocated(file, [], dir)
    if (!read.doc) return Effect.fail(new SpecError({ diagnostics: read.diagnostics }))
    const raw = read.doc
    const rawValue = (raw.value ?? {}) as Record<string, unknown>
    const declared = rawValue["params"]
    const defaults: Record<string, ScalarValue> = {}
    const diagnostics: Array<Diagnostic> = []
    if (declared !== undefined && declared !== null) {
      if (typeof declared !== "object" || Array.isArray(declared)) {
        diagnostics.push(error(positionOf(raw, ["params"]), "params must be a map of name: default"))
      } else {
        for (const [k, v] of Object.entries(declared)) {
          if (v === null || ["string", "number", "boolean"].includes(typeof v)) defaults[k] = v as ScalarValue
          else diagnostics.push(error(positionOf(raw, ["params", k]), `param '${k}' must have a string, number or boolean default`))
        }
      }
    }
    const overridden = applyOverrides(defaults, options.set ?? [])
    diagnostics.push(...overridden.diagnostics)
    for (const [k, v] of Object.entries(overridden.params)) {
      if (v === null) diagnostics.push(error(positionOf(raw, ["params", k]), `param '${k}' has no default and was not set`, `pass --set ${k}=...`))
    }
    const interpolated = interpolate(raw, {
      params: overridden.params,
      env: options.env ?? process.env,
      allowMissingEnv: options.allowMissingEnv ?? false
    })
    diagnostics.push(...interpolated.diagnostics)
    const decoded = decodeSpec(interpolated.doc)
    diagnostics.push(...decoded.diagnostics)
    const lintContext = { doc: interpolated.doc, params: overridden.params, models: options.models ?? null }
    if (decoded.spec) diagnostics.push(...lint(decoded.spec, lintContext))
    else diagnostics.push(...bestEffortLint(interpolated.doc.value, lintContext, decoded.diagnostics))
    const errors = diagnostics.filter((d) => d.severity === "error")
    if (errors.length > 0 || !decoded.spec) return Effect.fail(new SpecError({ diagnostics }))
    return Effect.succeed({
      spec: decoded.spec,
      params: overridden.params,
      file: display(file),
      specHash: hashSpec(decoded.spec),
      warnings: diagnostics.filter((d) => d.severity === "warning"),
      located: interpolated.doc
    })
  })
