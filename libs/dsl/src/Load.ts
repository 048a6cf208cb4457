import { createHash } from "node:crypto"
import { basename, join } from "node:path"
import { Effect, Redacted } from "effect"
import { decodeSpec } from "./Decode.ts"
import { error, sortDiagnostics, SpecError, warning } from "./Diagnostic.ts"
import type { Diagnostic } from "./Diagnostic.ts"
import { readEnv } from "./Env.ts"
import type { EnvValues } from "./Env.ts"
import { isIdentifier } from "./Identifier.ts"
import { applyOverrides, envReferences, interpolate } from "./Interpolate.ts"
import { lint, lintBestEffort } from "./Lint.ts"
import type { ModelFacts } from "./Lint.ts"
import { positionOf } from "./Located.ts"
import type { Located } from "./Located.ts"
import { displayPath, readLocated, resolvePipelinePath } from "./PipelineFile.ts"
import type { PipelineSpec, ScalarValue } from "./Spec.ts"

export interface LoadOptions {
  /** `key=value` param overrides, as from `--set`. */
  readonly set?: ReadonlyArray<string>
  /** A fixed environment for `${env.NAME}`; by default the current `ConfigProvider` is asked. */
  readonly env?: EnvValues
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

const canonical = (v: unknown): unknown => {
  if (Redacted.isRedacted(v)) return "<redacted>"
  if (Array.isArray(v)) return v.map(canonical)
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]))
  return v
}

/** Hash of the resolved spec; connections are left out so moving a database does not orphan a run. */
const hashSpec = (spec: PipelineSpec): string => {
  const { connections: _c, description: _d, verify: _v, searches: _s, ...rest } = spec
  return createHash("sha256").update(JSON.stringify(canonical(rest))).digest("hex").slice(0, 16)
}

/** Appends one by one: a broken file may have more problems than a call takes arguments. */
const add = (to: Array<Diagnostic>, ds: ReadonlyArray<Diagnostic>): void => {
  for (const d of ds) to.push(d)
}

/** The most problems reported at once: past them, a file is broken in one way many times over. */
const maxDiagnostics = 200

/** Errors are kept before warnings, so a flood of warnings never hides why a file failed. */
const capped = (ds: ReadonlyArray<Diagnostic>): ReadonlyArray<Diagnostic> => {
  if (ds.length <= maxDiagnostics) return ds
  const ranked = [...sortDiagnostics(ds.filter((d) => d.severity === "error")), ...sortDiagnostics(ds.filter((d) => d.severity !== "error"))]
  const hidden = ranked.slice(maxDiagnostics)
  const note = `${hidden.length} more problems are not shown`
  return [
    ...sortDiagnostics(ranked.slice(0, maxDiagnostics)),
    hidden.some((d) => d.severity === "error") ? error(null, note, "fix the ones above first") : warning(null, note)
  ]
}

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v)

/** Params are settings a person passes with --set; past this many, a file is carrying data. */
export const maxParams = 1000

/** The declared params' defaults (names and values checked here, not by the schema: a file may declare very many). */
const declaredParams = (raw: Located, diagnostics: Array<Diagnostic>): Record<string, ScalarValue> | null => {
  const declared = isMap(raw.value) ? raw.value["params"] : undefined
  if (!isMap(declared)) return {}
  const names = Object.keys(declared)
  if (names.length > maxParams) {
    diagnostics.push(error(positionOf(raw, ["params", names[maxParams]!], "key"), `a pipeline declares at most ${maxParams} params; this file declares ${names.length}`, "params hold settings; keep data in the sources"))
    return null
  }
  const entries: Array<[string, ScalarValue]> = []
  for (const [k, v] of Object.entries(declared)) {
    if (!isIdentifier(k)) {
      diagnostics.push(error(positionOf(raw, ["params", k], "key"), `params must be a plain identifier (letters, digits, _; not starting with a digit) for each name; '${k}' is not`))
    } else if (v === null || typeof v === "string" || typeof v === "number" || typeof v === "boolean") entries.push([k, v])
    else diagnostics.push(error(positionOf(raw, ["params", k]), `param '${k}' must have a string, number or boolean default, not ${Array.isArray(v) ? "a list" : "a map"}`))
  }
  return Object.fromEntries(entries)
}

/** The declared params' defaults with `--set` applied; a param left without a value is an error. */
const resolveParams = (raw: Located, defaults: Record<string, ScalarValue>, set: ReadonlyArray<string>, diagnostics: Array<Diagnostic>): Record<string, ScalarValue> => {
  const overridden = applyOverrides(defaults, set)
  add(diagnostics, overridden.diagnostics)
  for (const k of Object.keys(defaults)) {
    if (defaults[k] === null && overridden.params[k] === null) diagnostics.push(error(positionOf(raw, ["params", k]), `param '${k}' has no default and was not set`, `pass --set ${k}=...`))
  }
  return overridden.params
}

/** Decodes the spec; params, already checked, are set aside so a file of many params decodes quickly. */
const decodeWithParams = (doc: Located, defaults: Record<string, ScalarValue>) => {
  const value = doc.value
  if (!isMap(value) || !isMap(value["params"])) return decodeSpec(doc)
  const decoded = decodeSpec({ ...doc, value: { ...value, params: {} } })
  return { ...decoded, spec: decoded.spec && { ...decoded.spec, params: defaults } }
}

/**
 * Runs are recorded, locked and resumed by pipeline name, so two files with one name
 * would share a ledger and a lock; naming each file after its pipeline keeps names unique.
 */
const lintFileName = (name: string, file: string, doc: Located): ReadonlyArray<Diagnostic> => {
  const fileName = basename(file).replace(/\.ya?ml$/, "")
  if (fileName === name) return []
  return [warning(positionOf(doc, ["pipeline"]), `pipeline '${name}' is in file ${basename(file)}: runs are recorded and locked by pipeline name, so every file with this name shares one ledger and lock`, `name the file ${name}.yaml, or the pipeline ${fileName}`)]
}

/**
 * Loads a pipeline by name or path: YAML with positions, `extends`, params with
 * `--set` overrides, `${...}` interpolation (the environment through the current
 * `ConfigProvider`), schema decoding and lint. Fails with every problem found,
 * each at its file:line:col.
 */
export const loadPipeline = (ref: string, options: LoadOptions = {}): Effect.Effect<LoadedPipeline, SpecError> =>
  Effect.gen(function*() {
    const dir = options.pipelinesDir ?? join(process.cwd(), "pipelines")
    const file = resolvePipelinePath(ref, dir)
    const read = readLocated(file, [], dir)
    // Each stage runs without a pause; between them the event loop turns, so a SIGTERM or
    // Ctrl-C that came in while a large file was parsed interrupts the load there.
    yield* Effect.yieldNow
    if (!read.doc) return yield* new SpecError({ diagnostics: capped(read.diagnostics) })
    const raw = read.doc
    const diagnostics: Array<Diagnostic> = [...read.diagnostics]
    const defaults = declaredParams(raw, diagnostics)
    if (defaults === null) return yield* new SpecError({ diagnostics: capped(diagnostics) })
    const params = resolveParams(raw, defaults, options.set ?? [], diagnostics)
    const env = yield* readEnv(envReferences(raw), options.env)
    const interpolated = interpolate(raw, { params, env, allowMissingEnv: options.allowMissingEnv ?? false })
    add(diagnostics, interpolated.diagnostics)
    yield* Effect.yieldNow
    const decoded = decodeWithParams(interpolated.doc, defaults)
    add(diagnostics, decoded.diagnostics)
    yield* Effect.yieldNow
    const lintContext = { doc: interpolated.doc, params, models: options.models ?? null }
    if (decoded.spec) add(diagnostics, lint(decoded.spec, lintContext))
    else add(diagnostics, lintBestEffort(interpolated.doc.value, lintContext, decoded.diagnostics))
    if (decoded.spec) add(diagnostics, lintFileName(decoded.spec.pipeline, file, interpolated.doc))
    const errors = diagnostics.filter((d) => d.severity === "error")
    if (errors.length > 0 || !decoded.spec) return yield* new SpecError({ diagnostics: capped(diagnostics) })
    return {
      spec: decoded.spec,
      params,
      file: displayPath(file),
      specHash: hashSpec(decoded.spec),
      warnings: diagnostics.filter((d) => d.severity === "warning"),
      located: interpolated.doc
    }
  })
