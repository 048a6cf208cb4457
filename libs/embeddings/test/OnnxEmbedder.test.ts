/**
 * Smoke tests against the real bge-small-en-v1.5 model. They assume `npm run model` has run
 * (the test script does it first); otherwise loading fails with detail "ModelFilesMissing".
 */
import { spawnSync } from "node:child_process"
import { copyFileSync, mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it, layer } from "@effect/vitest"
import { ConfigProvider, Context, Effect, Exit, Layer, Logger, Scope } from "effect"
import { Embedders, isConnectorFailure } from "@polymath/engine"
import {
  defaultCpuSessions,
  defaultMaxBatchTokens,
  defaultThreads,
  embedderFactoryFromRegistry,
  layer as embeddersLayer,
  loadModelRegistry,
  makeEmbedderFactory,
  makeModelRegistry,
  planBatches,
  summarizeCudaError
} from "../src/index.ts"
import type { OnnxEmbedder } from "../src/index.ts"

class SmallModel extends Context.Service<SmallModel, OnnxEmbedder>()("test/SmallModel") {}

const SmallModelLive = Layer.effect(
  SmallModel,
  makeEmbedderFactory({ batchSize: 4, precision: "fp32" }).pipe(Effect.flatMap((factory) => factory.load("bge-small-en-v1.5")))
)

/** A logger layer that keeps what is logged, as structured entries. */
const collectLogs = () => {
  const entries: Array<{ level: string; message: unknown; annotations: Record<string, unknown> }> = []
  return { entries, logger: Logger.layer([Logger.make((o) => void entries.push(Logger.formatStructured.log(o)))]) }
}

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0)
const norm = (a: Float32Array) => Math.sqrt(dot(a, a))
const cosine = (a: Float32Array, b: Float32Array) => dot(a, b) / (norm(a) * norm(b))

layer(SmallModelLive, { timeout: "120 seconds" })("bge-small-en-v1.5 (fp32, real tokenizer)", (it) => {
  it.effect("turns a sentence into a 384-d unit vector", () =>
    Effect.gen(function*() {
      const model = yield* SmallModel
      expect(model.model).toEqual({ name: "bge-small-en-v1.5", dimensions: 384, maxTokens: 512, pooling: "cls", normalize: true })
      expect(model.provider).toBe("cpu")
      const [v] = yield* model.embed(["Knowledge graphs connect papers, authors and topics."])
      expect(v).toBeInstanceOf(Float32Array)
      expect(v!.length).toBe(384)
      expect(norm(v!)).toBeCloseTo(1, 5)
      expect(v!.every(Number.isFinite)).toBe(true)
    }))

  it.effect("ranks a paraphrase above an unrelated sentence", () =>
    Effect.gen(function*() {
      const model = yield* SmallModel
      const [a, b, c] = yield* model.embed([
        "The cat is sleeping on the sofa.",
        "A kitten naps on the couch.",
        "Quarterly revenue grew by five percent in Europe."
      ])
      expect(cosine(a!, b!)).toBeGreaterThan(cosine(a!, c!) + 0.1)
    }))

  it.effect("gives the same vectors in a batch as one by one, in the original order", () =>
    Effect.gen(function*() {
      const model = yield* SmallModel
      // Lengths vary so that batches are sorted and padded; batchSize 4 gives several runs.
      const texts = [
        "A long sentence about graph databases, vector search and the integration of research knowledge from many sources. ".repeat(6),
        "short",
        "Crème brûlée in São Paulo.",
        "机器学习是人工智能的一个分支。",
        "",
        "Emoji 🚀 and text",
        "Medium length text about embeddings and how they are pooled with the CLS token.",
        "   ",
        "Another short one.",
        "Neo4j stores nodes and relationships; pgvector stores embeddings next to rows in Postgres."
      ]
      const batch = yield* model.embed(texts)
      expect(batch.length).toBe(texts.length)
      for (const [i, text] of texts.entries()) {
        const [single] = yield* model.embed([text])
        expect(cosine(batch[i]!, single!), `text #${i}`).toBeGreaterThan(0.9999)
      }
    }))

  it.effect("truncates an over-length text to 512 tokens, [CLS] ... [SEP], without error", () =>
    Effect.gen(function*() {
      const model = yield* SmallModel
      const long = "Embedding models truncate long passages at their maximum sequence length. ".repeat(200)
      const [enc] = yield* model.tokenizer.encode([long])
      expect(enc!.ids.length).toBe(512)
      expect(enc!.ids[0]).toBe(101)
      expect(enc!.ids[511]).toBe(102)
      const [v, w] = yield* model.embed([long, long + " more words after the cut"])
      expect(norm(v!)).toBeCloseTo(1, 5)
      // Everything past the limit is cut, so extra trailing words change nothing.
      expect(cosine(v!, w!)).toBeGreaterThan(0.99999)
    }))

  it.effect("returns nothing for no texts", () =>
    Effect.gen(function*() {
      const model = yield* SmallModel
      expect(yield* model.embed([])).toEqual([])
    }))

  it.effect("applies the query prefix only to queries", () =>
    Effect.gen(function*() {
      const model = yield* SmallModel
      const [p] = yield* model.embed(["graph neural networks"])
      const [q] = yield* model.embedQueries(["graph neural networks"])
      const [pq] = yield* model.embed(["Represent this sentence for searching relevant passages: graph neural networks"])
      expect(cosine(q!, pq!)).toBeGreaterThan(0.9999)
      expect(cosine(p!, q!)).toBeLessThan(0.9999)
    }))
})

/** Texts of mixed lengths and scripts, for batching, windows, sessions and precision. */
const mixedTexts = [
  "A long sentence about graph databases, vector search and research knowledge. ".repeat(5),
  "short",
  "Crème brûlée in São Paulo.",
  "",
  "Medium length text about embeddings and how they are pooled with the CLS token.",
  "Another short one.",
  "Neo4j stores nodes and relationships; pgvector stores embeddings next to rows in Postgres.",
  "机器学习是人工智能的一个分支。"
]

describe("batching, windows and the low-level runs", () => {
  const texts = mixedTexts

  it.effect("reports its resolved batching: 64 rows and a 1024-token budget on CPU; int8 keeps 1 row", () =>
    Effect.gen(function*() {
      const factory = yield* makeEmbedderFactory({ precision: "fp32" })
      const fp32 = yield* factory.load("bge-small-en-v1.5")
      expect(fp32.batching).toEqual({ batchSize: 64, maxBatchTokens: 1024, sortWindow: 1024 })
      expect(defaultMaxBatchTokens("cpu")).toBe(1024)
      expect(fp32.threads).toBe(yield* defaultThreads)
      const int8 = yield* factory.load("bge-small-en-v1.5-q")
      expect(int8.batching.batchSize).toBe(1)
    }).pipe(Effect.scoped), 120_000)

  it.effect("tokenizes window by window (the next window while the current one runs) and keeps the order", () =>
    Effect.gen(function*() {
      // sortWindow 3: three windows, tokenization of each overlapping the previous one's runs.
      const factory = yield* makeEmbedderFactory({ sortWindow: 3, maxBatchTokens: 64, precision: "fp32" })
      const model = yield* factory.load("bge-small-en-v1.5")
      const windowed = yield* model.embed(texts)
      const whole = yield* (yield* (yield* makeEmbedderFactory({ precision: "fp32" })).load("bge-small-en-v1.5")).embed(texts)
      expect(windowed.length).toBe(texts.length)
      for (const [i] of texts.entries()) expect(cosine(windowed[i]!, whole[i]!), `text #${i}`).toBeGreaterThan(0.9999)
    }).pipe(Effect.scoped), 120_000)

  it.effect("decodes ids back to text", () =>
    Effect.gen(function*() {
      const model = yield* (yield* makeEmbedderFactory()).load("bge-small-en-v1.5")
      const [enc] = yield* model.tokenizer.encode(["Knowledge graphs connect papers."])
      expect(yield* model.tokenizer.decode(enc!.ids)).toBe("knowledge graphs connect papers.")
    }).pipe(Effect.scoped), 120_000)

  it.effect("takes its thread count and provider preference from the settings when the options leave them out", () =>
    Effect.gen(function*() {
      const { entries, logger } = collectLogs()
      const model = yield* (yield* makeEmbedderFactory({ precision: "fp32" })).load("bge-small-en-v1.5").pipe(Effect.provide(logger))
      expect(model.threads).toBe(2)
      // POLYMATH_EP=cuda: CUDA is attempted; without a usable CUDA provider the CPU session says why, as a warning.
      if (model.provider === "cpu") {
        expect(model.providerNote).toMatch(/^CUDA .*; using cpu$/)
        const line = entries.find((e) => String(e.message).includes("onnxruntime execution provider"))
        expect(line).toMatchObject({ level: "WARN", annotations: { model: "bge-small-en-v1.5", provider: "cpu" } })
        expect(String(line!.message).endsWith(`; ${model.providerNote}`)).toBe(true)
      } else {
        expect(model.provider).toBe("cuda")
      }
      // Options given in code win over the settings.
      const cpu = yield* (yield* makeEmbedderFactory({ threads: 1, provider: "cpu" })).load("bge-small-en-v1.5")
      expect([cpu.threads, cpu.provider, cpu.providerNote]).toEqual([1, "cpu", undefined])
    }).pipe(Effect.scoped, Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ POLYMATH_EMBED_THREADS: "2", POLYMATH_EP: "cuda" })))), 120_000)

  it.effect("logs the execution provider line once per load, annotated with model and provider", () =>
    Effect.gen(function*() {
      const { entries, logger } = collectLogs()
      const model = yield* (yield* makeEmbedderFactory({ threads: 1, precision: "fp32" })).load("bge-small-en-v1.5").pipe(Effect.provide(logger))
      const lines = entries.filter((e) => String(e.message).includes("onnxruntime execution provider"))
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatchObject({ level: "INFO", annotations: { model: "bge-small-en-v1.5", provider: "cpu" } })
      expect(lines[0]!.message).toBe(
        "[embeddings] bge-small-en-v1.5: onnxruntime execution provider cpu (intra-op threads 1, batches of up to 64 rows and 1024 padded tokens, max tokens 512)"
      )
      expect(model.providerNote).toBeUndefined()
    }).pipe(Effect.scoped, Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ POLYMATH_EP: "cpu" })))), 120_000)
})

describe("precision and sessions", () => {
  const texts = mixedTexts

  it.effect("on CPU runs the model's int8 variant under the model's name, unless precision is fp32", () =>
    Effect.gen(function*() {
      const auto = yield* (yield* makeEmbedderFactory({ provider: "cpu" })).load("bge-small-en-v1.5")
      expect([auto.model.name, auto.variant, auto.provider, auto.batching.batchSize]).toEqual(["bge-small-en-v1.5", "bge-small-en-v1.5-q", "cpu", 1])
      const pinned = yield* (yield* makeEmbedderFactory({ provider: "cpu", precision: "fp32" })).load("bge-small-en-v1.5")
      expect([pinned.model.name, pinned.variant, pinned.batching.batchSize]).toEqual(["bge-small-en-v1.5", undefined, 64])
      const fromSettings = yield* (yield* makeEmbedderFactory({ provider: "cpu" })).load("bge-small-en-v1.5").pipe(
        Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ POLYMATH_EMBED_PRECISION: "fp32" })))
      )
      expect(fromSettings.variant).toBeUndefined()
      // A model without a variant, and the variant asked for by its own name, run as named.
      const int8 = yield* (yield* makeEmbedderFactory({ provider: "cpu" })).load("bge-small-en-v1.5-q")
      expect([int8.model.name, int8.variant]).toEqual(["bge-small-en-v1.5-q", undefined])
      const [a] = yield* auto.embed([texts[0]!])
      const [b] = yield* pinned.embed([texts[0]!])
      expect(cosine(a!, b!)).toBeGreaterThan(0.99)
    }).pipe(Effect.scoped), 120_000)

  it.effect("runs the model itself, with a warning, when its int8 variant's files are missing", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "polymath-variant-"))
      const files = { onnx: join(dir, "model.onnx"), tokenizer: join(dir, "tokenizer.json") }
      const small = yield* (yield* loadModelRegistry()).lookup("bge-small-en-v1.5")
      copyFileSync(small.files.onnx, files.onnx)
      copyFileSync(small.files.tokenizer, files.tokenizer)
      const entry = { files, dimensions: 384, pooling: "cls", normalize: true, maxTokens: 512 }
      const registry = yield* makeModelRegistry(
        { models: { m: { ...entry, int8Variant: "m-q" }, "m-q": { ...entry, files: { ...files, onnx: join(dir, "absent-q.onnx") }, maxBatchSize: 1 } } },
        { path: "inline", modelsDir: dir }
      )
      const { entries, logger } = collectLogs()
      const model = yield* embedderFactoryFromRegistry(registry, { provider: "cpu", threads: 1 }).load("m").pipe(Effect.provide(logger))
      expect([model.model.name, model.variant, model.batching.batchSize]).toEqual(["m", undefined, 64])
      expect(entries.find((e) => e.level === "WARN")?.message).toBe(`[embeddings] m: its int8 variant m-q is not there (${join(dir, "absent-q.onnx")}); running m itself`)
    }).pipe(Effect.scoped), 120_000)

  it.effect("splits the threads over sessions that run batches side by side, vectors in order", () =>
    Effect.gen(function*() {
      const { entries, logger } = collectLogs()
      const two = yield* (yield* makeEmbedderFactory({ provider: "cpu", precision: "fp32", threads: 3, sessions: 2, maxBatchTokens: 128 })).load("bge-small-en-v1.5").pipe(
        Effect.provide(logger)
      )
      expect([two.sessions, two.threads]).toEqual([2, 3])
      expect(entries.map((e) => String(e.message)).find((m) => m.includes("execution provider"))).toContain("(2 sessions, intra-op threads 2 + 1, batches of up to 64 rows")
      const one = yield* (yield* makeEmbedderFactory({ provider: "cpu", precision: "fp32", threads: 1, sessions: 1 })).load("bge-small-en-v1.5")
      expect([one.sessions, one.threads]).toEqual([1, 1])
      // A 128-token budget cuts these texts into several runs, shared by the two sessions.
      expect(planBatches((yield* two.tokenizer.encode(texts)).map((e) => e.ids.length), two.batching).length).toBeGreaterThan(2)
      const [side, alone] = yield* Effect.all([two.embed(texts), one.embed(texts)], { concurrency: 2 })
      for (const [i] of texts.entries()) expect(cosine(side[i]!, alone[i]!), `text #${i}`).toBeGreaterThan(0.9999)
      // Two callers at once share the sessions and each gets its own vectors.
      const [x, y] = yield* Effect.all([two.embed(texts), two.embed([...texts].reverse())], { concurrency: 2 })
      for (const [i] of texts.entries()) {
        expect(cosine(x[i]!, alone[i]!)).toBeGreaterThan(0.9999)
        expect(cosine(y[texts.length - 1 - i]!, alone[i]!)).toBeGreaterThan(0.9999)
      }
    }).pipe(Effect.scoped), 120_000)

  it("defaults to two sessions on two threads or more, one for a model over 1 GiB", () => {
    expect([defaultCpuSessions(1, 1e8), defaultCpuSessions(2, 1e8), defaultCpuSessions(16, 1e8), defaultCpuSessions(16, 2.3e9)]).toEqual([1, 2, 2, 1])
  })
})

describe("the session's own thread", () => {
  it.effect("keeps the event loop free while a session runs (timers fire during one long run)", () =>
    Effect.gen(function*() {
      // One session run of 16 rows × ~250 tokens: about a second on one CPU thread. On the JS thread
      // it froze every timer for all of it (the cluster's shard-lock refresh among them).
      const model = yield* (yield* makeEmbedderFactory({ threads: 1, provider: "cpu", batchSize: 16, maxBatchTokens: 16 * 512 })).load("bge-small-en-v1.5")
      const texts = Array.from({ length: 16 }, (_, i) => `passage ${i} ` + "graph databases and vector search over research knowledge ".repeat(30))
      const ticks: Array<number> = []
      const timer = setInterval(() => ticks.push(performance.now()), 10)
      const t0 = performance.now()
      const vectors = yield* model.embed(texts)
      const t1 = performance.now()
      clearInterval(timer)
      expect(vectors).toHaveLength(16)
      const inRun = [t0, ...ticks.filter((t) => t > t0 && t < t1), t1]
      const gaps = inRun.slice(1).map((t, i) => t - inRun[i]!)
      // The run takes well over 100 ms even on a fast CPU; a blocked loop would give one gap as long as the run.
      expect(t1 - t0).toBeGreaterThan(100)
      expect(Math.max(...gaps)).toBeLessThan((t1 - t0) / 2)
      expect(gaps.length).toBeGreaterThan(5)
    }).pipe(Effect.scoped), 120_000)

  it("lets a process end while a loaded model sits idle on its thread", () => {
    // The scope is left open on purpose: an idle session thread must not keep the process alive.
    const script = `
      import { Effect, Scope } from "effect"
      import { makeEmbedderFactory } from ${JSON.stringify(fileURLToPath(new URL("../src/index.ts", import.meta.url)))}
      const scope = await Effect.runPromise(Scope.make())
      const model = await Effect.runPromise(Effect.flatMap(makeEmbedderFactory({ threads: 1, provider: "cpu" }), (f) => f.load("bge-small-en-v1.5")).pipe(Scope.provide(scope)))
      const [v] = await Effect.runPromise(model.embed(["one sentence"]))
      console.log("dims", v.length)
    `
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd: fileURLToPath(new URL("../../..", import.meta.url)), encoding: "utf8", timeout: 60_000 })
    expect(r.signal, "still running after 60 s").toBeNull()
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^dims 384$/m)
  }, 120_000)

  it.effect("fails a run after the scope released the session, rather than waiting forever", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const model = yield* (yield* makeEmbedderFactory({ threads: 1, provider: "cpu" })).load("bge-small-en-v1.5").pipe(Scope.provide(scope))
      yield* Scope.close(scope, Exit.void)
      const error = yield* Effect.flip(model.embed(["too late"]))
      expect(error.reason.detail).toBe("InferenceFailed")
      expect(error.message).toContain("onnxruntime thread exited")
    }), 120_000)
})

describe("maxTokens override", () => {
  it.effect("caps the model's limit for describe, the tokenizer and embed", () =>
    Effect.gen(function*() {
      const factory = yield* makeEmbedderFactory({ maxTokens: 16 })
      expect((yield* factory.describe("bge-small-en-v1.5")).maxTokens).toBe(16)
      const model = yield* factory.load("bge-small-en-v1.5-q")
      expect(model.model.maxTokens).toBe(16)
      const [enc] = yield* model.tokenizer.encode(["one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen"])
      expect(enc!.ids.length).toBe(16)
      expect(enc!.ids[15]).toBe(102)
      const [v] = yield* model.embed(["one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen"])
      expect(norm(v!)).toBeCloseTo(1, 5)
    }), 120_000)
})

describe("int8 model", () => {
  it.effect("runs rows one at a time, so a text's vector does not depend on its batch mates", () =>
    Effect.gen(function*() {
      const factory = yield* makeEmbedderFactory({ batchSize: 32 })
      const model = yield* factory.load("bge-small-en-v1.5-q")
      const texts = ["A short text.", "A much longer text about dynamic quantization, activation ranges and batch composition. ".repeat(5), "Ünïcödé 🚀"]
      const batch = yield* model.embed(texts)
      for (const [i, text] of texts.entries()) {
        const [single] = yield* model.embed([text])
        expect(Array.from(batch[i]!)).toEqual(Array.from(single!))
      }
    }), 120_000)
})

describe("model registry through the factory", () => {
  it.effect("fails describe and load of an unknown name with a tagged, non-retryable error listing known names", () =>
    Effect.gen(function*() {
      const factory = yield* makeEmbedderFactory()
      const error = yield* Effect.flip(factory.describe("no-such-model"))
      expect(error._tag).toBe("EmbeddingError")
      expect(error.reason).toMatchObject({ _tag: "Unavailable", detail: "UnknownModel" })
      expect(error.isRetryable).toBe(false)
      expect(isConnectorFailure(error)).toBe(true)
      expect(error.message).toContain("bge-small-en-v1.5")
      expect(error.message).toContain("bge-m3")
      const loadError = yield* Effect.flip(factory.load("no-such-model"))
      expect(loadError.reason.detail).toBe("UnknownModel")
    }))

  it.effect("describes a model without reading its files", () =>
    Effect.gen(function*() {
      const factory = yield* makeEmbedderFactory({ modelsDir: "/nonexistent" })
      expect(yield* factory.describe("bge-m3")).toEqual({ name: "bge-m3", dimensions: 1024, maxTokens: 8192, pooling: "cls", normalize: true })
      const error = yield* Effect.flip(factory.load("bge-m3"))
      expect(error.reason).toMatchObject({ _tag: "Unavailable", detail: "ModelFilesMissing" })
      expect(error.isRetryable).toBe(false)
    }))

  it.effect("provides the engine's Embedders service", () =>
    Effect.gen(function*() {
      const embedders = yield* Embedders
      expect((yield* embedders.describe("bge-small-en-v1.5-q")).dimensions).toBe(384)
      // The layer's options reach the loader: the files are looked for in its models directory.
      const error = yield* Effect.flip(Effect.scoped(embedders.load("bge-small-en-v1.5-q")))
      expect(error.message).toContain("/nonexistent/bge-small-en-v1.5/model-q.onnx")
    }).pipe(Effect.provide(embeddersLayer({ modelsDir: "/nonexistent" }))))
})

describe("planBatches", () => {
  it("sorts each window by length, bounds rows and padded tokens, and covers every index once", () => {
    const lengths = [10, 3, 50, 3, 7, 100, 2, 9]
    const batches = planBatches(lengths, { batchSize: 3, maxBatchTokens: 120, sortWindow: 4 })
    expect(batches).toEqual([[1, 3, 0], [2], [6, 4, 7], [5]])
    expect(batches.flat().sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
    for (const b of batches) {
      const longest = Math.max(...b.map((i) => lengths[i]!))
      expect(b.length <= 3).toBe(true)
      expect(b.length === 1 || b.length * longest <= 120).toBe(true)
    }
  })
})

describe("summarizeCudaError", () => {
  // Messages onnxruntime-node 1.30 threw with the onnxruntime-gpu wheel's CUDA provider present (no GPU).
  const signature = "std::conditional_t<THRW, void, onnxruntime::common::Status> onnxruntime::CudaCall(ERRTYPE, const char*, const char*, SUCCTYPE, " +
    "const char*, const char*, int) [with ERRTYPE = cudaError; bool THRW = true; SUCCTYPE = cudaError; std::conditional_t<THRW, void, common::Status> = void]"
  const cudaFailure = `/onnxruntime_src/onnxruntime/core/providers/cuda/cuda_call.cc:154 ${signature} ` +
    `/onnxruntime_src/onnxruntime/core/providers/cuda/cuda_call.cc:146 ${signature} CUDA failure 36: API call is not supported in the installed CUDA driver ; ` +
    "GPU=-1 ; hostname=vm ; file=/onnxruntime_src/onnxruntime/core/providers/cuda/cuda_execution_provider.cc ; line=352 ; expr=cudaSetDevice(info_.device_id); \n\n"

  it("keeps the CUDA failure clause and the failed call", () => {
    expect(summarizeCudaError(cudaFailure)).toBe("CUDA failure 36: API call is not supported in the installed CUDA driver (in cudaSetDevice(info_.device_id))")
  })

  it("keeps a short message whole and cuts a long one to its first line, at most 300 characters", () => {
    expect(summarizeCudaError("OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library"))
      .toBe("OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library")
    const long = summarizeCudaError(`${"x".repeat(400)}\nsecond line`)
    expect(long.length).toBe(300)
    expect(long.endsWith("…")).toBe(true)
    expect(summarizeCudaError("first\nsecond")).toBe("first")
  })
})
