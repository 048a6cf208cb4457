import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { poolOutput } from "../src/Pooling.ts"

// Two rows of token vectors (dim 2): row 0 has 2 real tokens, row 1 one token and a padded position.
const tokens = () => ({ data: Float32Array.from([3, 4, 1, 0, /* row 1 */ 0, 2, 9, 9]), dims: [2, 2, 2] })
const rows = [{ ids: [1, 2], typeIds: [] }, { ids: [1], typeIds: [] }]
const spec = { model: "m", dimensions: 2, normalize: false } as const

describe("poolOutput", () => {
  it.effect("CLS takes each row's first token vector", () =>
    Effect.gen(function*() {
      const vectors = yield* poolOutput(tokens(), "last_hidden_state", rows, { ...spec, pooling: "cls" })
      expect(vectors.map((v) => Array.from(v))).toEqual([[3, 4], [0, 2]])
    }))

  it.effect("mean averages a row's real tokens only, then normalises when the model says so", () =>
    Effect.gen(function*() {
      const mean = yield* poolOutput(tokens(), "last_hidden_state", rows, { ...spec, pooling: "mean" })
      expect(mean.map((v) => Array.from(v))).toEqual([[2, 2], [0, 2]])
      const unit = yield* poolOutput(tokens(), "last_hidden_state", rows, { ...spec, pooling: "mean", normalize: true })
      expect(Array.from(unit[0]!)).toEqual([Math.fround(Math.SQRT1_2), Math.fround(Math.SQRT1_2)])
      expect(Array.from(unit[1]!)).toEqual([0, 1])
    }))

  it.effect("takes 2-D outputs as sentence vectors and fails a wrong dimension or rank as Unavailable", () =>
    Effect.gen(function*() {
      const sentences = { data: Float32Array.from([1, 2, 3, 4]), dims: [2, 2] }
      expect((yield* poolOutput(sentences, "sentence_embedding", rows, { ...spec, pooling: "cls" })).map((v) => Array.from(v))).toEqual([[1, 2], [3, 4]])
      const wide = yield* Effect.flip(poolOutput(tokens(), "x", rows, { ...spec, dimensions: 3, pooling: "cls" }))
      expect(wide.reason).toMatchObject({ _tag: "Unavailable", detail: "DimensionMismatch" })
      expect(wide.message).toBe("model produces 2-d vectors but the registry says 3")
      const flat = yield* Effect.flip(poolOutput({ data: Float32Array.from([1, 2]), dims: [2] }, "x", rows, { ...spec, pooling: "cls" }))
      expect(flat.message).toBe(`output "x" has rank 1; expected 2 or 3`)
    }))
})
