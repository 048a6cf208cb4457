import { createHash } from "node:crypto"
import { join } from "node:path"
import { Effect, Redacted } from "effect"
import { decodeSpec } from "./Decode.ts"
import { error, SpecError } from "./Diagnostic.ts"
import type { Diagnostic } from "./Diagnostic.ts"
import { readEnv } from "./Env.ts"
import type { EnvValues } from "./Env.ts"
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
  const { connections: _c, description: _d, verify: _v, ...rest } = spec
  return createHash("sha256").update(JSON.stringify(canonical(rest))).digest("hex").slice(0, 16)
}

/** The declared params' defaults with `--set` applied; a param left without a value is an error. */
const resolveParams = (raw: Located, set: ReadonlyArray<string>, diagnostics: Array<Diagnostic>): Record<string, ScalarValue> => {
  const declared = (raw.value as Record<string, unknown> | null)?.["params"]
  const defaults: Record<string, ScalarValue> = {}
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
  const overridden = applyOverrides(defaults, set)
  diagnostics.push(...overridden.diagnostics)
  for (const [k, v] of Object.entries(overridden.params)) {
    if (v === null) diagnostics.push(error(positionOf(raw, ["params", k]), `param '${k}' has no default and was not set`, `pass --set ${k}=...`))
  }
  return overridden.params
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
    if (!read.doc) return yield* new SpecError({ diagnostics: read.diagnostics })
    const raw = read.doc
    const diagnostics: Array<Diagnostic> = []
    const params = resolveParams(raw, options.set ?? [], diagnostics)
    const env = yield* readEnv(envReferences(raw), options.env)
    const interpolated = interpolate(raw, { params, env, allowMissingEnv: options.allowMissingEnv ?? false })
    diagnostics.push(...interpolated.diagnostics)
    const decoded = decodeSpec(interpolated.doc)
    diagnostics.push(...decoded.diagnostics)
    const lintContext = { doc: interpolated.doc, params, models: options.models ?? null }
    if (decoded.spec) diagnostics.push(...lint(decoded.spec, lintContext))
    else diagnostics.push(...lintBestEffort(interpolated.doc.value, lintContext, decoded.diagnostics))
    const errors = diagnostics.filter((d) => d.severity === "error")
    if (errors.length > 0 || !decoded.spec) return yield* new SpecError({ diagnostics })
    return {
      spec: decoded.spec,
      params,
      file: displayPath(file),
      specHash: hashSpec(decoded.spec),
      warnings: diagnostics.filter((d) => d.severity === "warning"),
      located: interpolated.doc
    }
  })
