import { Effect } from "effect"
import type { Scope } from "effect"
import { embeddingError } from "./EmbeddingError.ts"
import type { EmbeddingError } from "./EmbeddingError.ts"
import { loadModel } from "./LoadedModel.ts"
import type { ModelEntry } from "./ModelRegistry.ts"
import { embedderOf } from "./OnnxEmbedder.ts"
import type { OnnxEmbedder, OnnxEmbedderOptions } from "./OnnxEmbedder.ts"
import type { Feed } from "./OnnxThreadProtocol.ts"
import { buildFeeds } from "./Tensors.ts"
import type { TokenizedText } from "./Tokenizer.ts"

/**
 * A batch whose input tensors are already built, for timing session runs alone.
 * The tensors stay inside this lib.
 */
export interface PreparedBatch {
  readonly rows: number
  /** Padded length (the longest row). */
  readonly length: number
}

/**
 * An embedder plus the low-level runs benchmarks time against it (tools/bench). Production code
 * uses `OnnxEmbedder`, whose batching these bypass.
 */
export interface BenchSession extends OnnxEmbedder {
  /**
   * Runs the rows as ONE session run, right-padded to the longest, in the given order (no sorting,
   * no splitting); pooled and normalised like `embed`.
   */
  readonly runBatch: (rows: ReadonlyArray<TokenizedText>) => Effect.Effect<ReadonlyArray<Float32Array>, EmbeddingError>
  /** Builds one batch's input tensors now (see `runPrepared`). */
  readonly prepareBatch: (rows: ReadonlyArray<TokenizedText>) => PreparedBatch
  /**
   * Only the session run of a prepared batch (the output is dropped), on a free session: the ceiling
   * `embed` is measured against. Run `sessions` of them at once to use every session.
   */
  readonly runPrepared: (batch: PreparedBatch) => Effect.Effect<void, EmbeddingError>
}

/** Loads a model like `loadOnnxEmbedder` (same options, session, warm-up and log line), with the benchmark runs. */
export const loadBenchSession = (
  entry: ModelEntry,
  options: OnnxEmbedderOptions = {}
): Effect.Effect<BenchSession, EmbeddingError, Scope.Scope> =>
  loadModel(entry, options).pipe(Effect.map((loaded): BenchSession => {
    const { session, tokenizer, withSession, runRows } = loaded
    const prepared = new WeakMap<PreparedBatch, Record<string, Feed>>()
    return {
      ...embedderOf(loaded),
      runBatch: (rows) => (rows.length === 0 ? Effect.succeed([]) : runRows(rows)),
      prepareBatch: (rows) => {
        const { feeds, length } = buildFeeds(session.io, rows, tokenizer.padId)
        const batch: PreparedBatch = { rows: rows.length, length }
        prepared.set(batch, feeds)
        return batch
      },
      runPrepared: (batch) =>
        Effect.suspend(() => {
          const feeds = prepared.get(batch)
          if (feeds === undefined) {
            return Effect.fail(embeddingError("BatchNotPrepared", "runPrepared: this batch was not prepared by this embedder", { model: loaded.entry.name }))
          }
          // Every session shares the first one's model IO, so the feeds fit whichever is free.
          return withSession((s) => s.run(feeds, batch.rows, batch.length)).pipe(Effect.asVoid)
        })
    }
  }))
