import type { Effect, Scope } from "effect"
import type { ConnectorFailure } from "./ConnectorError.ts"

/** How token vectors become one sentence vector. */
export type Pooling = "cls" | "mean"

/** What the engine knows about an embedding model (from the model registry). */
export interface ModelInfo {
  readonly name: string
  readonly dimensions: number
  readonly maxTokens: number
  readonly pooling: Pooling
  readonly normalize: boolean
}

/** A loaded model. `embed` returns one vector per text, in order. */
export interface Embedder {
  readonly model: ModelInfo
  /** Which onnxruntime execution provider runs the model (e.g. "cpu", "cuda"). */
  readonly provider: string
  /**
   * The registry entry that runs in the model's place (its int8 variant on CPU), when it is not
   * the model itself; its vectors count as the model's.
   */
  readonly variant?: string
  readonly embed: (texts: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<Float32Array>, ConnectorFailure>
  /** Embeds search queries: the model's query prefix (e.g. BGE's retrieval instruction), if any, is prepended. */
  readonly embedQueries: (texts: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<Float32Array>, ConnectorFailure>
}

/** Resolves model names through the registry and loads them. */
export interface EmbedderFactory {
  /** Registry lookup only (no model files are read); fails with reason Unavailable (detail "UnknownModel"). */
  readonly describe: (name: string) => Effect.Effect<ModelInfo, ConnectorFailure>
  /** Loads the model; the scope releases the session. */
  readonly load: (name: string) => Effect.Effect<Embedder, ConnectorFailure, Scope.Scope>
}
