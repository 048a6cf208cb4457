import { Effect, Fiber } from "effect"
import type { EmbeddingError } from "./EmbeddingError.ts"
import type { TokenizedText } from "./Tokenizer.ts"

/** How `embed` cuts its input into session runs (resolved options). */
export interface Batching {
  readonly batchSize: number
  readonly maxBatchTokens: number
  readonly sortWindow: number
}

/** Default token budget per session run: see `OnnxEmbedderOptions.maxBatchTokens`. */
export const defaultMaxBatchTokens = (provider: string): number => (provider === "cpu" ? 1024 : 16384)

/** The batching options resolved against their defaults and the registry entry's row cap. */
export const resolveBatching = (
  options: { readonly batchSize?: number; readonly maxBatchTokens?: number; readonly sortWindow?: number },
  maxBatchSize: number | undefined,
  provider: string
): Batching => ({
  batchSize: Math.max(1, Math.min(options.batchSize ?? 64, maxBatchSize ?? Number.MAX_SAFE_INTEGER)),
  maxBatchTokens: Math.max(1, options.maxBatchTokens ?? defaultMaxBatchTokens(provider)),
  sortWindow: Math.max(1, options.sortWindow ?? 1024)
})

/** Orders indexes [start, end) by token length (stable), then cuts batches bounded by rows and rows × longest. */
export const planBatches = (lengths: ReadonlyArray<number>, options: Batching): Array<Array<number>> => {
  const batches: Array<Array<number>> = []
  for (let start = 0; start < lengths.length; start += options.sortWindow) {
    const end = Math.min(lengths.length, start + options.sortWindow)
    const order = Array.from({ length: end - start }, (_, k) => start + k).sort((a, b) => lengths[a]! - lengths[b]! || a - b)
    let batch: Array<number> = []
    for (const i of order) {
      // Ascending order: the row being added is the longest of the batch.
      if (batch.length > 0 && (batch.length >= options.batchSize || (batch.length + 1) * lengths[i]! > options.maxBatchTokens)) {
        batches.push(batch)
        batch = []
      }
      batch.push(i)
    }
    if (batch.length > 0) batches.push(batch)
  }
  return batches
}

/** One session run over rows padded to the longest; vectors in row order. */
export type RunRows = (rows: ReadonlyArray<TokenizedText>) => Effect.Effect<ReadonlyArray<Float32Array>, EmbeddingError>

/**
 * Sorts one window by length, cuts it by rows and token budget, runs the batches, `concurrency` at
 * a time (one per session); results land at `offset + i`.
 */
const runWindow = (
  encodings: ReadonlyArray<TokenizedText>,
  offset: number,
  results: Array<Float32Array>,
  batching: Batching,
  runRows: RunRows,
  concurrency: number
) =>
  Effect.gen(function*() {
    const batches = planBatches(encodings.map((e) => e.ids.length), { ...batching, sortWindow: encodings.length })
    // Longest first: the last batch to start is a short one, so sessions finish close together.
    const order = concurrency > 1 ? batches.slice().reverse() : batches
    yield* Effect.forEach(order, (batch) =>
      Effect.map(runRows(batch.map((i) => encodings[i]!)), (vectors) => {
        batch.forEach((i, k) => {
          results[offset + i] = vectors[k]!
        })
      }), { concurrency, discard: true })
  })

/** Embeds already-tokenized texts window by window; one vector per text, in order. */
export const embedEncodings = (
  encodings: ReadonlyArray<TokenizedText>,
  batching: Batching,
  runRows: RunRows,
  concurrency = 1
): Effect.Effect<Array<Float32Array>, EmbeddingError> =>
  Effect.gen(function*() {
    const results = new Array<Float32Array>(encodings.length)
    for (let start = 0; start < encodings.length; start += batching.sortWindow) {
      yield* runWindow(encodings.slice(start, start + batching.sortWindow), start, results, batching, runRows, concurrency)
    }
    return results
  })

/**
 * Tokenizes and embeds texts a window at a time; the next window's tokenization (on the tokenizer's
 * own threads, off the event loop) is started before the current window's session runs.
 */
export const embedTexts = (
  texts: ReadonlyArray<string>,
  encode: (texts: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<TokenizedText>, EmbeddingError>,
  batching: Batching,
  runRows: RunRows,
  concurrency = 1
): Effect.Effect<Array<Float32Array>, EmbeddingError> =>
  Effect.gen(function*() {
    const window = batching.sortWindow
    const encodeWindow = (start: number) => encode(texts.slice(start, start + window))
    const results = new Array<Float32Array>(texts.length)
    let pending = yield* Effect.forkChild(encodeWindow(0), { startImmediately: true })
    for (let start = 0; start < texts.length; start += window) {
      const encodings = yield* Fiber.join(pending)
      if (start + window < texts.length) pending = yield* Effect.forkChild(encodeWindow(start + window), { startImmediately: true })
      yield* runWindow(encodings, start, results, batching, runRows, concurrency)
    }
    return results
  })
