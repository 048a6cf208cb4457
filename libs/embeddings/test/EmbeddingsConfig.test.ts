import { resolve } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Option } from "effect"
import { Embedders, isConnectorFailure } from "@polymath/engine"
import { availableThreads, defaultThreads, layerConfig, loadEmbeddingsConfig, makeEmbedderFactory } from "../src/index.ts"

/** Runs the effect with exactly these environment settings (nothing from the process environment). */
const withSettings = (settings: Record<string, string>) => Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(settings)))

const repo = resolve(import.meta.dirname, "../../..")

describe("EmbeddingsConfig", () => {
  it.effect("defaults: provider auto, threads unset, the committed registry and <repo>/.models", () =>
    Effect.gen(function*() {
      const config = yield* loadEmbeddingsConfig.pipe(withSettings({}))
      expect(config).toEqual({
        provider: "auto",
        threads: Option.none(),
        sessions: Option.none(),
        precision: "auto",
        registryPath: `${repo}/models/registry.json`,
        modelsDir: `${repo}/.models`
      })
    }))

  it.effect("reads the six settings; POLYMATH_EP and POLYMATH_EMBED_PRECISION in any case", () =>
    Effect.gen(function*() {
      const config = yield* loadEmbeddingsConfig.pipe(withSettings({
        POLYMATH_EP: "CUDA",
        POLYMATH_EMBED_THREADS: "3",
        POLYMATH_EMBED_SESSIONS: "1",
        POLYMATH_EMBED_PRECISION: " FP32",
        POLYMATH_MODEL_REGISTRY: "/elsewhere/registry.json",
        POLYMATH_MODELS_DIR: "/elsewhere/models"
      }))
      expect(config).toEqual({ provider: "cuda", threads: Option.some(3), sessions: Option.some(1), precision: "fp32", registryPath: "/elsewhere/registry.json", modelsDir: "/elsewhere/models" })
    }))

  it.effect("fails a bad value with reason BadData(ConfigInvalid), naming the variable and the value", () =>
    Effect.gen(function*() {
      const threads = yield* Effect.flip(loadEmbeddingsConfig.pipe(withSettings({ POLYMATH_EMBED_THREADS: "zero" })))
      expect(threads.message).toBe(`POLYMATH_EMBED_THREADS must be a positive integer, got "zero"`)
      expect(threads.reason).toMatchObject({ _tag: "BadData", detail: "ConfigInvalid" })
      expect(threads.isRetryable).toBe(false)
      expect(isConnectorFailure(threads)).toBe(true)
      for (const bad of ["0", "-2", "1.5", "8 threads"]) {
        const error = yield* Effect.flip(loadEmbeddingsConfig.pipe(withSettings({ POLYMATH_EMBED_THREADS: bad })))
        expect(error.message).toBe(`POLYMATH_EMBED_THREADS must be a positive integer, got ${JSON.stringify(bad)}`)
      }
      const ep = yield* Effect.flip(loadEmbeddingsConfig.pipe(withSettings({ POLYMATH_EP: "gpu" })))
      expect(ep.message).toBe(`POLYMATH_EP must be one of auto, cpu, cuda, got "gpu"`)
      const sessions = yield* Effect.flip(loadEmbeddingsConfig.pipe(withSettings({ POLYMATH_EMBED_SESSIONS: "0" })))
      expect(sessions.message).toBe(`POLYMATH_EMBED_SESSIONS must be a positive integer, got "0"`)
      const precision = yield* Effect.flip(loadEmbeddingsConfig.pipe(withSettings({ POLYMATH_EMBED_PRECISION: "int4" })))
      expect(precision.message).toBe(`POLYMATH_EMBED_PRECISION must be one of auto, fp32, got "int4"`)
    }))

  it.effect("a bad setting fails the factory and the Embedders layer before any model is read", () =>
    Effect.gen(function*() {
      const factory = yield* Effect.flip(makeEmbedderFactory().pipe(withSettings({ POLYMATH_EP: "tpu" })))
      expect(factory.reason).toMatchObject({ _tag: "BadData", detail: "ConfigInvalid" })
      const layer = yield* Effect.flip(Effect.gen(function*() {
        yield* Embedders
      }).pipe(
        Effect.provide(layerConfig.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ POLYMATH_EMBED_THREADS: "many" })))))
      ))
      expect(layer.message).toBe(`POLYMATH_EMBED_THREADS must be a positive integer, got "many"`)
    }))

  it.effect("the default thread count is POLYMATH_EMBED_THREADS, else the cores this process may use", () =>
    Effect.gen(function*() {
      expect(yield* defaultThreads.pipe(withSettings({ POLYMATH_EMBED_THREADS: "3" }))).toBe(3)
      expect(yield* defaultThreads.pipe(withSettings({}))).toBe(availableThreads())
      expect(availableThreads()).toBeGreaterThanOrEqual(1)
    }))
})
