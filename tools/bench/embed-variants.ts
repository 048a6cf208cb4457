/**
 * Session-option variants of (a) for `bench embed` (issue 11, item 5: what onnxruntime leaves on the
 * table on CPUs without AVX-512): the same prepared batches run on sessions built with other options.
 *
 *   raw-disabled / raw-basic / raw-extended   graph optimisation level (the default is "all")
 *   raw-saved   the model as onnxruntime saved it after its "all" optimisations, loaded with
 *               optimisations disabled (what a cached optimised model would give: same graph, less load time)
 *   raw-1t      one intra-op thread (the default: every core this process may use)
 *   raw-1s      one session with every thread (the default on CPU: two sessions, the threads split between them)
 */
import { join } from "node:path"
import { Effect } from "effect"
import type { Scope } from "effect"
import { loadBenchSession } from "@polymath/embeddings"
import type { BenchSession, EmbeddingError, ModelEntry, OnnxEmbedderOptions } from "@polymath/embeddings"

export const sessionVariants = ["raw-disabled", "raw-basic", "raw-extended", "raw-saved", "raw-1t", "raw-1s"] as const
export type SessionVariant = (typeof sessionVariants)[number]

export const variantLabel: Record<SessionVariant, string> = {
  "raw-disabled": "(a) raw, graph opt. disabled",
  "raw-basic": "(a) raw, graph opt. basic",
  "raw-extended": "(a) raw, graph opt. extended",
  "raw-saved": "(a) raw, saved optimised model",
  "raw-1t": "(a) raw, 1 intra-op thread",
  "raw-1s": "(a) raw, 1 session, all threads"
}

export interface LoadedVariant {
  readonly session: BenchSession
  /** Seconds to load it (tokenizer, session creation with its optimisations, warm-up runs). */
  readonly loadS: number
}

const timedLoad = (entry: ModelEntry, options: OnnxEmbedderOptions) =>
  Effect.gen(function*() {
    const t0 = performance.now()
    const session = yield* loadBenchSession(entry, options)
    return { session, loadS: (performance.now() - t0) / 1000 }
  })

/** One session per variant, in the caller's scope; `dir` receives the saved optimised model. */
export const loadVariants = (
  entry: ModelEntry,
  base: OnnxEmbedderOptions,
  variants: ReadonlyArray<SessionVariant>,
  dir: string
): Effect.Effect<Map<SessionVariant, LoadedVariant>, EmbeddingError, Scope.Scope> =>
  Effect.gen(function*() {
    const out = new Map<SessionVariant, LoadedVariant>()
    for (const v of variants) {
      if (v === "raw-saved") {
        const saved = join(dir, "optimized.onnx")
        yield* loadBenchSession(entry, { ...base, optimizedModelPath: saved })
        out.set(v, yield* timedLoad({ ...entry, files: { ...entry.files, onnx: saved } }, { ...base, graphOptimization: "disabled" }))
      } else if (v === "raw-1t") {
        out.set(v, yield* timedLoad(entry, { ...base, threads: 1, sessions: 1 }))
      } else if (v === "raw-1s") {
        out.set(v, yield* timedLoad(entry, { ...base, sessions: 1 }))
      } else {
        out.set(v, yield* timedLoad(entry, { ...base, graphOptimization: v === "raw-disabled" ? "disabled" : v === "raw-basic" ? "basic" : "extended" }))
      }
    }
    return out
  })
