import { readFile } from "node:fs/promises"
import { isAbsolute, join, resolve } from "node:path"
import { Effect } from "effect"
import type { ModelInfo, Pooling } from "@polymath/engine"
import { embeddingError } from "./EmbeddingError.ts"
import type { EmbeddingError } from "./EmbeddingError.ts"
import { loadEmbeddingsConfig } from "./EmbeddingsConfig.ts"

/** One registry entry, with its file paths resolved against the models directory. */
export interface ModelEntry extends ModelInfo {
  readonly files: {
    /** Absolute path of the ONNX model. */
    readonly onnx: string
    /** Absolute path of the HF tokenizer.json. */
    readonly tokenizer: string
  }
  /** Prepended to queries (e.g. BGE's retrieval instruction). */
  readonly queryPrefix?: string
  /** Prepended to every passage given to `embed`. */
  readonly passagePrefix?: string
  /**
   * Caps rows per session run. Dynamically quantized (int8) models compute activation scales over
   * the whole batch, so batch mates change a text's vector; 1 keeps their vectors batch-independent.
   */
  readonly maxBatchSize?: number
  /**
   * The name of this model's int8 (quantized) entry, run in its place on CPU unless precision is
   * pinned to fp32. Declaring it says its vectors match this model's within cosine 0.99 on the
   * reference set (for bge-small-en-v1.5, libs/embeddings/test/Reference.test.ts checks it in CI);
   * vectors of either count as this model's.
   */
  readonly int8Variant?: string
}

export interface ModelRegistry {
  /** The registry file it was read from. */
  readonly path: string
  readonly modelsDir: string
  /** Known model names, sorted. */
  readonly names: ReadonlyArray<string>
  /** Fails with reason "UnknownModel" (listing the known names) when absent. */
  readonly lookup: (name: string) => Effect.Effect<ModelEntry, EmbeddingError>
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/** Validates one raw entry; returns the problem as a string, or the entry. */
const parseEntry = (name: string, raw: unknown, modelsDir: string): ModelEntry | string => {
  if (!isRecord(raw)) return `model "${name}" must be an object`
  const { files, dimensions, pooling, normalize, maxTokens, queryPrefix, passagePrefix, maxBatchSize, int8Variant } = raw
  if (!isRecord(files) || typeof files["onnx"] !== "string" || typeof files["tokenizer"] !== "string") {
    return `model "${name}": "files" must be { "onnx": string, "tokenizer": string }`
  }
  if (typeof dimensions !== "number" || !Number.isInteger(dimensions) || dimensions <= 0) {
    return `model "${name}": "dimensions" must be a positive integer`
  }
  if (pooling !== "cls" && pooling !== "mean") return `model "${name}": "pooling" must be "cls" or "mean"`
  if (typeof normalize !== "boolean") return `model "${name}": "normalize" must be a boolean`
  if (typeof maxTokens !== "number" || !Number.isInteger(maxTokens) || maxTokens < 2) {
    return `model "${name}": "maxTokens" must be an integer >= 2`
  }
  if (queryPrefix !== undefined && typeof queryPrefix !== "string") return `model "${name}": "queryPrefix" must be a string`
  if (passagePrefix !== undefined && typeof passagePrefix !== "string") return `model "${name}": "passagePrefix" must be a string`
  if (maxBatchSize !== undefined && (typeof maxBatchSize !== "number" || !Number.isInteger(maxBatchSize) || maxBatchSize < 1)) {
    return `model "${name}": "maxBatchSize" must be a positive integer`
  }
  if (int8Variant !== undefined && (typeof int8Variant !== "string" || int8Variant === name)) {
    return `model "${name}": "int8Variant" must name another model`
  }
  const at = (p: string) => (isAbsolute(p) ? p : join(modelsDir, p))
  return {
    name,
    dimensions,
    pooling: pooling satisfies Pooling,
    normalize,
    maxTokens,
    files: { onnx: at(files["onnx"]), tokenizer: at(files["tokenizer"]) },
    ...(queryPrefix === undefined ? {} : { queryPrefix }),
    ...(passagePrefix === undefined ? {} : { passagePrefix }),
    ...(maxBatchSize === undefined ? {} : { maxBatchSize }),
    ...(int8Variant === undefined ? {} : { int8Variant })
  }
}

/** Why an entry's int8 variant cannot stand in for it, or null when it can. */
const variantProblem = (entry: ModelEntry, entries: ReadonlyMap<string, ModelEntry>): string | null => {
  if (entry.int8Variant === undefined) return null
  const variant = entries.get(entry.int8Variant)
  const about = `model "${entry.name}": "int8Variant" "${entry.int8Variant}"`
  if (variant === undefined) return `${about} is not in the registry`
  if (variant.int8Variant !== undefined) return `${about} has an int8Variant of its own`
  for (const field of ["dimensions", "pooling", "normalize", "maxTokens", "queryPrefix", "passagePrefix"] as const) {
    const show = (v: unknown) => (v === undefined ? "none" : JSON.stringify(v))
    if (variant[field] !== entry[field]) return `${about} differs in "${field}" (${show(variant[field])} vs ${show(entry[field])})`
  }
  return null
}

/** Builds a registry from already-parsed JSON (`{ "models": { name: entry } }`). */
export const makeModelRegistry = (json: unknown, options: { readonly path: string; readonly modelsDir: string }): Effect.Effect<ModelRegistry, EmbeddingError> =>
  Effect.suspend(() => {
    const models = isRecord(json) ? json["models"] : undefined
    if (!isRecord(models)) {
      return Effect.fail(embeddingError("RegistryInvalid", `model registry ${options.path} must be an object with a "models" object`))
    }
    const entries = new Map<string, ModelEntry>()
    for (const [name, raw] of Object.entries(models)) {
      const entry = parseEntry(name, raw, options.modelsDir)
      if (typeof entry === "string") return Effect.fail(embeddingError("RegistryInvalid", `model registry ${options.path}: ${entry}`))
      entries.set(name, entry)
    }
    for (const entry of entries.values()) {
      const problem = variantProblem(entry, entries)
      if (problem !== null) return Effect.fail(embeddingError("RegistryInvalid", `model registry ${options.path}: ${problem}`))
    }
    const names = [...entries.keys()].sort()
    return Effect.succeed<ModelRegistry>({
      path: options.path,
      modelsDir: options.modelsDir,
      names,
      lookup: (name) => {
        const entry = entries.get(name)
        return entry === undefined
          ? Effect.fail(
            embeddingError("UnknownModel", `unknown embedding model "${name}"; known models: ${names.join(", ") || "(none)"} (registry ${options.path})`, { model: name })
          )
          : Effect.succeed(entry)
      }
    })
  })

/** Reads and validates the registry file. Defaults: POLYMATH_MODEL_REGISTRY and POLYMATH_MODELS_DIR (see EmbeddingsConfig). */
export const loadModelRegistry = (options: { readonly registryPath?: string; readonly modelsDir?: string } = {}): Effect.Effect<ModelRegistry, EmbeddingError> =>
  Effect.gen(function*() {
    const config = yield* loadEmbeddingsConfig
    const path = resolve(options.registryPath ?? config.registryPath)
    const modelsDir = resolve(options.modelsDir ?? config.modelsDir)
    const text = yield* Effect.tryPromise({
      try: () => readFile(path, "utf8"),
      catch: (cause) => embeddingError("RegistryInvalid", `cannot read model registry ${path}`, { cause })
    })
    const json = yield* Effect.try({
      try: () => JSON.parse(text) as unknown,
      catch: (cause) => embeddingError("RegistryInvalid", `model registry ${path} is not valid JSON`, { cause })
    })
    return yield* makeModelRegistry(json, { path, modelsDir })
  })
