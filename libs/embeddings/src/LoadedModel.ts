import { existsSync } from "node:fs"
import { Effect, Option, Semaphore } from "effect"
import type { Scope } from "effect"
import { embeddingError } from "./EmbeddingError.ts"
import type { EmbeddingError } from "./EmbeddingError.ts"
import { resolveBatching } from "./Batching.ts"
import type { Batching, RunRows } from "./Batching.ts"
import { loadEmbeddingsConfig } from "./EmbeddingsConfig.ts"
import type { ModelEntry } from "./ModelRegistry.ts"
import type { OnnxEmbedderOptions } from "./OnnxEmbedder.ts"
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
  readonly threads: number
  readonly tokenizer: Tokenizer
  readonly session: OnnxSession
  readonly batching: Batching
  /** Serializes session runs: one caller's batches run together and in order. */
  readonly withLock: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** One session run, pooled and normalised; the caller holds the lock. */
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

/** Loads the tokenizer and the ONNX session for a registry entry and checks them with warm-up runs. */
export const loadModel = (entry: ModelEntry, options: OnnxEmbedderOptions): Effect.Effect<LoadedModel, EmbeddingError, Scope.Scope> =>
  Effect.gen(function*() {
    const model = entry.name
    yield* checkFiles(entry)
    const config = yield* loadEmbeddingsConfig
    const maxTokens = Math.max(2, Math.min(entry.maxTokens, options.maxTokens ?? entry.maxTokens))
    const threads = Math.max(1, options.threads ?? Option.getOrElse(config.threads, availableThreads))
    const tokenizer = yield* loadTokenizer(entry.files.tokenizer, { maxTokens, model })
    const session = yield* acquireOnnxSession(entry.files.onnx, {
      threads,
      spinning: options.spinning ?? false,
      preference: options.provider ?? config.provider,
      model,
      graphOptimization: options.graphOptimization ?? "all",
      optimizedModelPath: options.optimizedModelPath ?? null
    })
    const batching = resolveBatching(options, entry.maxBatchSize, session.provider)
    const line = `[embeddings] ${model}: onnxruntime execution provider ${session.provider} (intra-op threads ${threads}, ` +
      `batches of up to ${batching.batchSize} rows and ${batching.maxBatchTokens} padded tokens, max tokens ${maxTokens})`
    yield* (session.note === undefined ? Effect.logInfo(line) : Effect.logWarning(`${line}; ${session.note}`)).pipe(
      Effect.annotateLogs({ model, provider: session.provider })
    )

    const lock = yield* Semaphore.make(1)
    const pooling = { model, dimensions: entry.dimensions, pooling: entry.pooling, normalize: entry.normalize }
    const runRows: RunRows = (rows) =>
      Effect.suspend(() => {
        const { feeds, length } = buildFeeds(session.io, rows, tokenizer.padId)
        return session.run(feeds, rows.length, length)
      }).pipe(Effect.flatMap((output) => poolOutput(output, session.io.output, rows, pooling)))

    // Warm-up: the first run allocates and optimizes; it also checks the output dimension. A second
    // run at the token budget's shape lets onnxruntime size its buffers before the first real batch.
    const warmText = yield* tokenizer.encode([(entry.passagePrefix ?? "") + "warm-up"])
    yield* lock.withPermit(runRows(warmText))
    const warmLength = Math.max(2, Math.min(maxTokens, 128))
    const warmRows = Math.max(1, Math.min(batching.batchSize, Math.floor(batching.maxBatchTokens / warmLength)))
    yield* lock.withPermit(runRows(Array.from({ length: warmRows }, () => ({ ids: new Array<number>(warmLength).fill(tokenizer.padId), typeIds: [] }))))

    return { entry, maxTokens, threads, tokenizer, session, batching, withLock: lock.withPermit, runRows }
  })
