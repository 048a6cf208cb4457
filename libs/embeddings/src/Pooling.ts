import { Effect } from "effect"
import type { Pooling } from "@polymath/engine"
import { embeddingError } from "./EmbeddingError.ts"
import type { EmbeddingError } from "./EmbeddingError.ts"
import type { OutputTensor } from "./OnnxThreadProtocol.ts"
import type { TokenizedText } from "./Tokenizer.ts"

/** What pooling needs to know of the model. */
export interface PoolingSpec {
  readonly model: string
  readonly dimensions: number
  readonly pooling: Pooling
  readonly normalize: boolean
}

/** Scales `v` in place to unit length (a zero vector stays zero). */
export const l2normalize = (v: Float32Array): Float32Array => {
  let sum = 0
  for (let i = 0; i < v.length; i++) sum += v[i]! * v[i]!
  const norm = Math.sqrt(sum)
  if (norm > 0) for (let i = 0; i < v.length; i++) v[i] = v[i]! / norm
  return v
}

/** The mean of a row's first `n` token vectors (its real tokens; padding is left out). */
const meanOf = (data: Float32Array, rowBase: number, n: number, dim: number): Float32Array => {
  const v = new Float32Array(dim)
  for (let t = 0; t < n; t++) {
    const at = rowBase + t * dim
    for (let k = 0; k < dim; k++) v[k] = v[k]! + data[at + k]!
  }
  for (let k = 0; k < dim; k++) v[k] = v[k]! / Math.max(1, n)
  return v
}

/**
 * One vector per row from a session output: a 2-D output holds sentence vectors already; a 3-D
 * one holds token vectors, pooled by CLS (the first token) or by the mean over the row's tokens.
 * Normalised when the model says so. `name` is the output's name, for errors.
 */
export const poolOutput = (
  out: OutputTensor | undefined,
  name: string,
  rows: ReadonlyArray<TokenizedText>,
  spec: PoolingSpec
): Effect.Effect<Array<Float32Array>, EmbeddingError> =>
  Effect.suspend(() => {
    const model = spec.model
    if (out === undefined || !(out.data instanceof Float32Array)) {
      return Effect.fail(embeddingError("UnsupportedModel", `output "${name}" is not a float32 tensor`, { model }))
    }
    const data = out.data
    const dims = out.dims
    const dim = dims[dims.length - 1] ?? 0
    if (dim !== spec.dimensions) {
      return Effect.fail(embeddingError("DimensionMismatch", `model produces ${dim}-d vectors but the registry says ${spec.dimensions}`, { model }))
    }
    const vectors: Array<Float32Array> = []
    if (dims.length === 2) {
      for (let r = 0; r < rows.length; r++) vectors.push(data.slice(r * dim, (r + 1) * dim))
    } else if (dims.length === 3) {
      const seq = dims[1]!
      for (let r = 0; r < rows.length; r++) {
        const rowBase = r * seq * dim
        vectors.push(spec.pooling === "cls" ? data.slice(rowBase, rowBase + dim) : meanOf(data, rowBase, Math.min(seq, rows[r]!.ids.length), dim))
      }
    } else {
      return Effect.fail(embeddingError("UnsupportedModel", `output "${name}" has rank ${dims.length}; expected 2 or 3`, { model }))
    }
    return Effect.succeed(spec.normalize ? vectors.map(l2normalize) : vectors)
  })
