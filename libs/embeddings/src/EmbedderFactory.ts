import { Effect, Layer } from "effect"
import type { Scope } from "effect"
import { Embedders } from "@polymath/engine"
import type { EmbedderFactory } from "@polymath/engine"
import type { EmbeddingError } from "./EmbeddingError.ts"
import { loadModelRegistry } from "./ModelRegistry.ts"
import type { ModelRegistry } from "./ModelRegistry.ts"
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

/** An EmbedderFactory over an already loaded registry. */
export const embedderFactoryFromRegistry = (registry: ModelRegistry, options: OnnxEmbedderOptions = {}): OnnxEmbedderFactory => {
  const cap = (maxTokens: number) => Math.max(2, Math.min(maxTokens, options.maxTokens ?? maxTokens))
  return {
    registry,
    describe: (name) =>
      registry.lookup(name).pipe(
        Effect.map((e) => ({ name: e.name, dimensions: e.dimensions, maxTokens: cap(e.maxTokens), pooling: e.pooling, normalize: e.normalize }))
      ),
    load: (name) => registry.lookup(name).pipe(Effect.flatMap((entry) => loadOnnxEmbedder(entry, options)))
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
