import { Effect, Layer } from "effect"
import type { Scope } from "effect"
import { Embedders } from "@polymath/engine"
import type { EmbedderFactory } from "@polymath/engine"
import type { EmbeddingError } from "./EmbeddingError.ts"
import { existsSync } from "node:fs"
import { loadEmbeddingsConfig } from "./EmbeddingsConfig.ts"
import { cudaDecision } from "./ExecutionProvider.ts"
import { loadModelRegistry } from "./ModelRegistry.ts"
import type { ModelEntry, ModelRegistry } from "./ModelRegistry.ts"
import { loadOnnxEmbedder } from "./OnnxEmbedder.ts"
import type { OnnxEmbedder, OnnxEmbedderOptions } from "./OnnxEmbedder.ts"

export interface EmbedderFactoryOptions extends OnnxEmbedderOptions {
  /** Default: POLYMATH_MODEL_REGISTRY, else <repo>/models/registry.json. */
  readonly registryPath?: string
  /** Default: POLYMATH_MODELS_DIR, else <repo>/.models. */
  readonly modelsDir?: string
}

/** The engine's EmbedderFactory, with `load` returning the richer OnnxEmbedder. */
export interface OnnxEmbedderFactory extends EmbedderFactory {
  readonly registry: ModelRegistry
  readonly load: (name: string) => Effect.Effect<OnnxEmbedder, EmbeddingError, Scope.Scope>
}

/**
 * The entry to run for `entry`: its int8 variant when precision is "auto", the session cannot be on
 * CUDA (GPUs run the model as named) and the variant's files are there; else the entry itself.
 */
const entryToRun = (registry: ModelRegistry, entry: ModelEntry, options: OnnxEmbedderOptions): Effect.Effect<ModelEntry, EmbeddingError> =>
  Effect.gen(function*() {
    if (entry.int8Variant === undefined) return entry
    const config = yield* loadEmbeddingsConfig
    if ((options.precision ?? config.precision) === "fp32" || cudaDecision(options.provider ?? config.provider).attempt) return entry
    const variant = yield* registry.lookup(entry.int8Variant)
    const missing = [variant.files.onnx, variant.files.tokenizer].find((f) => !existsSync(f))
    if (missing === undefined) return variant
    yield* Effect.logWarning(`[embeddings] ${entry.name}: its int8 variant ${variant.name} is not there (${missing}); running ${entry.name} itself`)
    return entry
  })

/** An EmbedderFactory over an already loaded registry. */
export const embedderFactoryFromRegistry = (registry: ModelRegistry, options: OnnxEmbedderOptions = {}): OnnxEmbedderFactory => {
  const cap = (maxTokens: number) => Math.max(2, Math.min(maxTokens, options.maxTokens ?? maxTokens))
  return {
    registry,
    describe: (name) =>
      registry.lookup(name).pipe(
        Effect.map((e) => ({ name: e.name, dimensions: e.dimensions, maxTokens: cap(e.maxTokens), pooling: e.pooling, normalize: e.normalize }))
      ),
    load: (name) =>
      Effect.gen(function*() {
        const entry = yield* registry.lookup(name)
        const run = yield* entryToRun(registry, entry, options)
        const embedder = yield* loadOnnxEmbedder(run, options)
        // The variant's vectors count as the model's: the name asked for is the one recorded.
        return run === entry ? embedder : { ...embedder, model: { ...embedder.model, name: entry.name }, variant: run.name }
      })
  }
}

/**
 * Reads the model registry and returns an EmbedderFactory; `load` reads the model files. Options
 * left out are taken from the environment settings (see EmbeddingsConfig), read through the
 * current ConfigProvider.
 */
export const makeEmbedderFactory = (options: EmbedderFactoryOptions = {}): Effect.Effect<OnnxEmbedderFactory, EmbeddingError> =>
  loadModelRegistry(options).pipe(Effect.map((registry) => embedderFactoryFromRegistry(registry, options)))

/** Provides the engine's `Embedders` service with these options (the registry is read when the layer is built). */
export const layer = (options: EmbedderFactoryOptions = {}): Layer.Layer<Embedders, EmbeddingError> =>
  Layer.effect(Embedders, makeEmbedderFactory(options))

/**
 * Provides the engine's `Embedders` service with every setting from `Config` (POLYMATH_EP,
 * POLYMATH_EMBED_THREADS, POLYMATH_MODEL_REGISTRY, POLYMATH_MODELS_DIR; see EmbeddingsConfig).
 * A bad value fails the layer with reason BadData("ConfigInvalid").
 */
export const layerConfig: Layer.Layer<Embedders, EmbeddingError> = layer()
