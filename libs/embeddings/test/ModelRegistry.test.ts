import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect } from "effect"
import { loadModelRegistry, makeModelRegistry } from "../src/index.ts"

const tmp = mkdtempSync(join(tmpdir(), "polymath-registry-"))
const write = (name: string, content: string) => {
  const path = join(tmp, name)
  writeFileSync(path, content)
  return path
}

describe("ModelRegistry", () => {
  it.effect("loads the committed registry with the three models, resolving files against the models dir", () =>
    Effect.gen(function*() {
      const registry = yield* loadModelRegistry({ modelsDir: "/models" })
      expect(registry.names).toEqual(["bge-m3", "bge-small-en-v1.5", "bge-small-en-v1.5-q"])
      const small = yield* registry.lookup("bge-small-en-v1.5")
      expect(small).toMatchObject({ dimensions: 384, pooling: "cls", normalize: true, maxTokens: 512 })
      expect(small.files).toEqual({ onnx: "/models/bge-small-en-v1.5/model.onnx", tokenizer: "/models/bge-small-en-v1.5/tokenizer.json" })
      const int8 = yield* registry.lookup("bge-small-en-v1.5-q")
      expect(int8.files.onnx).toBe("/models/bge-small-en-v1.5/model-q.onnx")
      expect(int8.maxBatchSize).toBe(1)
      expect(small.int8Variant).toBe("bge-small-en-v1.5-q")
      expect(int8.int8Variant).toBeUndefined()
      expect(yield* registry.lookup("bge-m3")).toMatchObject({ dimensions: 1024, maxTokens: 8192, pooling: "cls", normalize: true })
    }))

  it.effect("fails an unknown name with reason UnknownModel listing the known names", () =>
    Effect.gen(function*() {
      const registry = yield* loadModelRegistry()
      const error = yield* Effect.flip(registry.lookup("gpt-embedding"))
      expect(error).toMatchObject({ _tag: "EmbeddingError", reason: { _tag: "Unavailable", detail: "UnknownModel" }, model: "gpt-embedding" })
      expect(error.isRetryable).toBe(false)
      expect(error.message).toContain("bge-m3, bge-small-en-v1.5, bge-small-en-v1.5-q")
    }))

  it.effect("takes its path from POLYMATH_MODEL_REGISTRY and the models dir from POLYMATH_MODELS_DIR", () =>
    Effect.gen(function*() {
      const path = write("from-config.json", JSON.stringify({ models: { m: { files: { onnx: "m.onnx", tokenizer: "t.json" }, dimensions: 8, pooling: "cls", normalize: true, maxTokens: 8 } } }))
      const registry = yield* loadModelRegistry().pipe(
        Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ POLYMATH_MODEL_REGISTRY: path, POLYMATH_MODELS_DIR: "/configured" })))
      )
      expect(registry.path).toBe(path)
      expect(registry.names).toEqual(["m"])
      expect((yield* registry.lookup("m")).files).toEqual({ onnx: "/configured/m.onnx", tokenizer: "/configured/t.json" })
      // Options given in code win over the settings.
      const explicit = yield* loadModelRegistry({ modelsDir: "/explicit" }).pipe(
        Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ POLYMATH_MODEL_REGISTRY: path, POLYMATH_MODELS_DIR: "/configured" })))
      )
      expect((yield* explicit.lookup("m")).files.onnx).toBe("/explicit/m.onnx")
    }))

  it.effect("reads a custom registry with absolute paths, mean pooling and prefixes", () =>
    Effect.gen(function*() {
      const path = write(
        "custom.json",
        JSON.stringify({
          models: {
            e5: {
              files: { onnx: "/abs/e5.onnx", tokenizer: "e5/tokenizer.json" },
              dimensions: 768,
              pooling: "mean",
              normalize: true,
              maxTokens: 512,
              queryPrefix: "query: ",
              passagePrefix: "passage: "
            }
          }
        })
      )
      const registry = yield* loadModelRegistry({ registryPath: path, modelsDir: "/m" })
      expect(yield* registry.lookup("e5")).toEqual({
        name: "e5",
        files: { onnx: "/abs/e5.onnx", tokenizer: "/m/e5/tokenizer.json" },
        dimensions: 768,
        pooling: "mean",
        normalize: true,
        maxTokens: 512,
        queryPrefix: "query: ",
        passagePrefix: "passage: "
      })
    }))

  it.effect("fails a missing, non-JSON or malformed registry with reason RegistryInvalid", () =>
    Effect.gen(function*() {
      const missing = yield* Effect.flip(loadModelRegistry({ registryPath: join(tmp, "absent.json") }))
      expect(missing.reason).toMatchObject({ _tag: "Unavailable", detail: "RegistryInvalid" })
      const notJson = yield* Effect.flip(loadModelRegistry({ registryPath: write("bad.json", "{ nope") }))
      expect(notJson.reason.detail).toBe("RegistryInvalid")
      const badPooling = yield* Effect.flip(
        makeModelRegistry(
          { models: { x: { files: { onnx: "a", tokenizer: "b" }, dimensions: 8, pooling: "max", normalize: true, maxTokens: 8 } } },
          { path: "inline", modelsDir: "/m" }
        )
      )
      expect(badPooling.reason.detail).toBe("RegistryInvalid")
      expect(badPooling.message).toContain(`"pooling" must be "cls" or "mean"`)
      const noModels = yield* Effect.flip(makeModelRegistry([], { path: "inline", modelsDir: "/m" }))
      expect(noModels.isRetryable).toBe(false)
    }))

  it.effect("checks an int8Variant: another entry, in the registry, without a variant of its own, alike in what shapes a vector", () =>
    Effect.gen(function*() {
      const model = (extra: Record<string, unknown> = {}) => ({ files: { onnx: "a", tokenizer: "b" }, dimensions: 8, pooling: "cls", normalize: true, maxTokens: 8, ...extra })
      const problem = (models: Record<string, unknown>) =>
        Effect.flip(makeModelRegistry({ models }, { path: "inline", modelsDir: "/m" })).pipe(Effect.map((e) => [e.reason.detail, e.message]))
      const ok = yield* makeModelRegistry({ models: { x: model({ int8Variant: "x-q" }), "x-q": model({ maxBatchSize: 1 }) } }, { path: "inline", modelsDir: "/m" })
      expect((yield* ok.lookup("x")).int8Variant).toBe("x-q")
      expect(yield* problem({ x: model({ int8Variant: "x" }) })).toEqual(["RegistryInvalid", `model registry inline: model "x": "int8Variant" must name another model`])
      expect(yield* problem({ x: model({ int8Variant: 3 }) })).toEqual(["RegistryInvalid", `model registry inline: model "x": "int8Variant" must name another model`])
      expect(yield* problem({ x: model({ int8Variant: "nope" }) })).toEqual(["RegistryInvalid", `model registry inline: model "x": "int8Variant" "nope" is not in the registry`])
      expect(yield* problem({ x: model({ int8Variant: "y" }), y: model({ int8Variant: "x" }) })).toEqual([
        "RegistryInvalid",
        `model registry inline: model "x": "int8Variant" "y" has an int8Variant of its own`
      ])
      expect(yield* problem({ x: model({ int8Variant: "y" }), y: model({ dimensions: 16 }) })).toEqual([
        "RegistryInvalid",
        `model registry inline: model "x": "int8Variant" "y" differs in "dimensions" (16 vs 8)`
      ])
      expect(yield* problem({ x: model({ int8Variant: "y", queryPrefix: "q: " }), y: model() })).toEqual([
        "RegistryInvalid",
        `model registry inline: model "x": "int8Variant" "y" differs in "queryPrefix" (none vs "q: ")`
      ])
    }))
})
