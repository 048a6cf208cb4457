import { existsSync, statSync } from "node:fs"
import { Effect, Option, Queue } from "effect"
import type { Scope } from "effect"
import { embeddingError } from "./EmbeddingError.ts"
import type { EmbeddingError } from "./EmbeddingError.ts"
import { resolveBatching } from "./Batching.ts"
import type { Batching, RunRows } from "./Batching.ts"
import { loadEmbeddingsConfig } from "./EmbeddingsConfig.ts"
import type { ModelEntry } from "./ModelRegistry.ts"
import type { OnnxEmbedderOptions } from "./OnnxEmbedder.ts"
import { cudaDecision } from "./ExecutionProvider.ts"
import { acquireOnnxSession, availableThreads } from "./OnnxSession.ts"
import type { OnnxSession } from "./OnnxSession.ts"
import { poolOutput } from "./Pooling.ts"
import { buildFeeds } from "./Tensors.ts"
import { loadTokenizer } from "./Tokenizer.ts"
import type { Tokenizer } from "./Tokenizer.ts"

/**
 * A model ready to run: its tokenizer, its session and the resolved settings. Shared by the
 * production embedder and the benchmark session; not part of the lib's API.
 */
export interface LoadedModel {
  readonly entry: ModelEntry
  /** The effective limit (registry maxTokens, capped by the `maxTokens` option). */
  readonly maxTokens: number
  /** Intra-op threads of all sessions together. */
  readonly threads: number
  /** How many sessions of the model run side by side (each on its own thread, with threads / sessions intra-op threads). */
  readonly sessions: number
  readonly tokenizer: Tokenizer
  /** The first session: its provider and model IO are every session's. */
  readonly session: OnnxSession
  readonly batching: Batching
  /** Runs `f` on a session no one else is using, waiting for one to be free. */
  readonly withSession: <A, E, R>(f: (session: OnnxSession) => Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** One session run on a free session, pooled and normalised. */
  readonly runRows: RunRows
}

/** POLYMATH_EMBED_THREADS when set, else the cores this process may use. */
export const defaultThreads: Effect.Effect<number, EmbeddingError> = loadEmbeddingsConfig.pipe(
  Effect.map((config) => Option.getOrElse(config.threads, availableThreads))
)

const checkFiles = (entry: ModelEntry): Effect.Effect<void, EmbeddingError> =>
  Effect.forEach([entry.files.onnx, entry.files.tokenizer], (file) =>
    existsSync(file)
      ? Effect.void
      : Effect.fail(
        embeddingError(
          "ModelFilesMissing",
          `model file ${file} is missing (bge-small-en-v1.5: run \`npm run model\`; other models: put the files in the models directory)`,
          { model: entry.name }
        )
      ), { discard: true })

/** The bytes of the model's weights: the ONNX file and an external-data file beside it, if any. */
const modelBytes = (onnx: string): number => {
  let bytes = 0
  for (const file of [onnx, `${onnx}_data`, `${onnx}.data`]) {
    try {
      bytes += statSync(file).size
    } catch {
      // No such file: the weights are inside the ONNX file.
    }
  }
  return bytes
}

/** Above this, one session by default: every session holds its own copy of the weights. */
const twoSessionsMaxBytes = 1024 ** 3

/**
 * Sessions to run on CPU. Two single-threaded sessions fed batches side by side ran 1.14-1.27x one
 * session with both threads on a 2-core AVX2 EPYC (bge-small fp32 and int8; see tools/bench/README.md):
 * intra-op parallelism leaves cores idle in small operators. Each session holds its own weights, so a
 * model over 1 GiB gets one unless asked otherwise.
 */
export const defaultCpuSessions = (threads: number, bytes: number): number => (threads >= 2 && bytes <= twoSessionsMaxBytes ? 2 : 1)

/**
 * Loads the tokenizer and the ONNX sessions for a registry entry and checks them with warm-up runs.
 * On CPU the threads are split over `sessions` sessions, and batches run on whichever is free; a
 * session that may run on CUDA is alone and gets every thread.
 */
export const loadModel = (entry: ModelEntry, options: OnnxEmbedderOptions): Effect.Effect<LoadedModel, EmbeddingError, Scope.Scope> =>
  Effect.gen(function*() {
    const model = entry.name
    yield* checkFiles(entry)
    const config = yield* loadEmbeddingsConfig
    const maxTokens = Math.max(2, Math.min(entry.maxTokens, options.maxTokens ?? entry.maxTokens))
    const threads = Math.max(1, options.threads ?? Option.getOrElse(config.threads, availableThreads))
    const tokenizer = yield* loadTokenizer(entry.files.tokenizer, { maxTokens, model })
    const preference = options.provider ?? config.provider
    const cpuOnly = !cudaDecision(preference).attempt
    const wanted = cpuOnly
      ? Math.max(1, options.sessions ?? Option.getOrElse(config.sessions, () => defaultCpuSessions(threads, modelBytes(entry.files.onnx))))
      : 1
    // The threads split as evenly as they go (3 over 2 sessions: 2 and 1).
    const threadsOf = (i: number) => Math.max(1, Math.floor(threads / wanted) + (i < threads % wanted ? 1 : 0))
    const settings = {
      threads: threadsOf(0),
      spinning: options.spinning ?? false,
      preference,
      model,
      graphOptimization: options.graphOptimization ?? "all",
      optimizedModelPath: options.optimizedModelPath ?? null
    } as const
    const session = yield* acquireOnnxSession(entry.files.onnx, settings)
    // Only the first session writes the optimised model file.
    const others = yield* Effect.forEach(Array.from({ length: wanted - 1 }), (_, i) =>
      acquireOnnxSession(entry.files.onnx, { ...settings, threads: threadsOf(i + 1), optimizedModelPath: null, preference: "cpu" }), { concurrency: "unbounded" })
    const all = [session, ...others]
    const batching = resolveBatching(options, entry.maxBatchSize, session.provider)
    const perSession = all.map((_, i) => threadsOf(i))
    const total = perSession.reduce((a, b) => a + b, 0)
    const threadsLine = all.length === 1 ? `intra-op threads ${total}` : `${all.length} sessions, intra-op threads ${perSession.join(" + ")}`
    const line = `[embeddings] ${model}: onnxruntime execution provider ${session.provider} (${threadsLine}, ` +
      `batches of up to ${batching.batchSize} rows and ${batching.maxBatchTokens} padded tokens, max tokens ${maxTokens})`
    yield* (session.note === undefined ? Effect.logInfo(line) : Effect.logWarning(`${line}; ${session.note}`)).pipe(
      Effect.annotateLogs({ model, provider: session.provider })
    )

    const free = yield* Queue.unbounded<OnnxSession>()
    yield* Queue.offerAll(free, all)
    const withSession = <A, E, R>(f: (s: OnnxSession) => Effect.Effect<A, E, R>) =>
      Effect.acquireUseRelease(Queue.take(free), f, (s) => Queue.offer(free, s))
    const pooling = { model, dimensions: entry.dimensions, pooling: entry.pooling, normalize: entry.normalize }
    const runOn = (s: OnnxSession): RunRows => (rows) =>
      Effect.suspend(() => {
        const { feeds, length } = buildFeeds(s.io, rows, tokenizer.padId)
        return s.run(feeds, rows.length, length)
      }).pipe(Effect.flatMap((output) => poolOutput(output, s.io.output, rows, pooling)))
    const runRows: RunRows = (rows) => withSession((s) => runOn(s)(rows))

    // Warm-up, on every session: the first run allocates and optimizes; it also checks the output
    // dimension. A second run at the token budget's shape lets onnxruntime size its buffers before
    // the first real batch.
    const warmText = yield* tokenizer.encode([(entry.passagePrefix ?? "") + "warm-up"])
    const warmLength = Math.max(2, Math.min(maxTokens, 128))
    const warmRows = Math.max(1, Math.min(batching.batchSize, Math.floor(batching.maxBatchTokens / warmLength)))
    const padded = Array.from({ length: warmRows }, () => ({ ids: new Array<number>(warmLength).fill(tokenizer.padId), typeIds: [] }))
    yield* Effect.forEach(all, (s) => Effect.andThen(runOn(s)(warmText), runOn(s)(padded)), { concurrency: "unbounded", discard: true })

    return { entry, maxTokens, threads: total, sessions: all.length, tokenizer, session, batching, withSession, runRows }
  })
