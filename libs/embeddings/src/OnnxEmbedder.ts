import { Effect } from "effect"
import type { Scope } from "effect"
import type { Embedder } from "@polymath/engine"
import { embedEncodings, embedTexts } from "./Batching.ts"
import type { Batching } from "./Batching.ts"
import type { EmbeddingError } from "./EmbeddingError.ts"
import type { Precision } from "./EmbeddingsConfig.ts"
import type { ExecutionProviderPreference } from "./ExecutionProvider.ts"
import { loadModel } from "./LoadedModel.ts"
import type { LoadedModel } from "./LoadedModel.ts"
import type { ModelEntry } from "./ModelRegistry.ts"
import type { TokenizedText, Tokenizer } from "./Tokenizer.ts"

export interface OnnxEmbedderOptions {
  /**
   * onnxruntime intra-op threads; default: POLYMATH_EMBED_THREADS when set, else the cores this
   * process may use (`os.availableParallelism()`, which honours CPU affinity, capped by a cgroup quota).
   */
  readonly threads?: number
  /**
   * Sessions of the model on CPU, run side by side with the threads split between them; default:
   * POLYMATH_EMBED_SESSIONS when set, else 2 when there are 2 threads or more and the model's
   * weights are at most 1 GiB, else 1. A session that may run on CUDA is always alone.
   */
  readonly sessions?: number
  /**
   * "auto" (default: POLYMATH_EMBED_PRECISION, else "auto"): on CPU, a model's registered
   * `int8Variant` runs in its place; "fp32": the model as named. Used by the factory's `load`.
   */
  readonly precision?: Precision
  /** Caps the model's maxTokens (e.g. 512 for bge-m3, whose registry maxTokens is 8192). */
  readonly maxTokens?: number
  /** Most rows per session run; default 64. A registry entry's maxBatchSize caps it. */
  readonly batchSize?: number
  /**
   * Token budget of one session run: rows × padded length (the longest row of the batch).
   * Default 1024 on CPU (the fastest budget measured for bge-small: see the README), 16384 on CUDA.
   * A row longer than the budget runs alone.
   */
  readonly maxBatchTokens?: number
  /** How many consecutive texts are sorted by token length together to reduce padding; default 1024. */
  readonly sortWindow?: number
  /** Default: POLYMATH_EP (`cpu` | `cuda` | `auto`) when set, else "auto". */
  readonly provider?: ExecutionProviderPreference
  /**
   * Whether onnxruntime's idle intra-op threads spin-wait for work (its default) instead of sleeping.
   * Default false: spinning burns the cores that Postgres, the tokenizer and the event loop need
   * between runs (see the README).
   */
  readonly spinning?: boolean
  /** onnxruntime's graph optimisation level; default "all" (kept unless a measurement says otherwise: tools/bench embed). */
  readonly graphOptimization?: GraphOptimization
  /** Where onnxruntime writes the model after its graph optimisations (a file a later session can load). */
  readonly optimizedModelPath?: string
}

export type GraphOptimization = "disabled" | "basic" | "extended" | "all"

/** The engine's `Embedder`, plus what tests and query-time callers need. */
export interface OnnxEmbedder extends Embedder {
  /** The effective limit (registry maxTokens, capped by the `maxTokens` option). */
  readonly maxTokens: number
  readonly tokenizer: Tokenizer
  /** Why the session runs on CPU although CUDA was requested or detected (also logged at load). */
  readonly providerNote?: string
  /** Embeds passages (the entry's passagePrefix, if any, is prepended). One unit vector per text, in order. */
  readonly embed: (texts: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<Float32Array>, EmbeddingError>
  /** Embeds search queries (the entry's queryPrefix, if any, is prepended). */
  readonly embedQueries: (texts: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<Float32Array>, EmbeddingError>
  /** Embeds already-tokenized texts (as produced by `tokenizer.encode`). */
  readonly embedTokenized: (encodings: ReadonlyArray<TokenizedText>) => Effect.Effect<ReadonlyArray<Float32Array>, EmbeddingError>
  /** onnxruntime intra-op threads of all its sessions together. */
  readonly threads: number
  /** Sessions run side by side (see `OnnxEmbedderOptions.sessions`). */
  readonly sessions: number
  readonly batching: Batching
}

/** The embedder over a loaded model: a call's batches run on as many sessions as are free. */
export const embedderOf = (loaded: LoadedModel): OnnxEmbedder => {
  const { entry, tokenizer, batching, runRows, session, sessions } = loaded
  const embedWith = (prefix: string | undefined) => (texts: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<Float32Array>, EmbeddingError> => {
    if (texts.length === 0) return Effect.succeed([])
    const input = prefix === undefined || prefix === "" ? texts : texts.map((t) => prefix + t)
    return embedTexts(input, tokenizer.encode, batching, runRows, sessions)
  }
  return {
    model: { name: entry.name, dimensions: entry.dimensions, maxTokens: loaded.maxTokens, pooling: entry.pooling, normalize: entry.normalize },
    provider: session.provider,
    ...(session.note === undefined ? {} : { providerNote: session.note }),
    maxTokens: loaded.maxTokens,
    tokenizer,
    threads: loaded.threads,
    sessions,
    batching,
    embed: embedWith(entry.passagePrefix),
    embedQueries: embedWith(entry.queryPrefix),
    embedTokenized: (encodings) => (encodings.length === 0 ? Effect.succeed([]) : embedEncodings(encodings, batching, runRows, sessions))
  }
}

/**
 * Loads the tokenizer and the ONNX session for a registry entry, checks it with a warm-up run and
 * logs the execution provider. The scope releases the session.
 */
export const loadOnnxEmbedder = (
  entry: ModelEntry,
  options: OnnxEmbedderOptions = {}
): Effect.Effect<OnnxEmbedder, EmbeddingError, Scope.Scope> => loadModel(entry, options).pipe(Effect.map(embedderOf))
