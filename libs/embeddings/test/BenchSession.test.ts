import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { loadBenchSession, loadModelRegistry, makeEmbedderFactory } from "../src/index.ts"

const cosine = (a: Float32Array, b: Float32Array) => {
  let ab = 0
  let aa = 0
  let bb = 0
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!
    aa += a[i]! * a[i]!
    bb += b[i]! * b[i]!
  }
  return ab / Math.sqrt(aa * bb)
}

const texts = [
  "A long sentence about graph databases, vector search and research knowledge. ".repeat(5),
  "short",
  "Crème brûlée in São Paulo.",
  "",
  "Medium length text about embeddings and how they are pooled with the CLS token.",
  "Another short one.",
  "Neo4j stores nodes and relationships; pgvector stores embeddings next to rows in Postgres.",
  "机器学习是人工智能的一个分支。"
]

describe("BenchSession", () => {
  it.effect("runBatch pads one batch in the given order and matches the production embedder; prepared batches run alone", () =>
    Effect.gen(function*() {
      const entry = yield* (yield* loadModelRegistry()).lookup("bge-small-en-v1.5")
      const bench = yield* loadBenchSession(entry)
      const production = yield* (yield* makeEmbedderFactory({ precision: "fp32" })).load("bge-small-en-v1.5")
      expect(bench.batching).toEqual(production.batching)
      const rows = yield* bench.tokenizer.encode(texts)
      const batch = yield* bench.runBatch(rows)
      const embedded = yield* production.embed(texts)
      for (const [i] of texts.entries()) expect(cosine(batch[i]!, embedded[i]!), `text #${i}`).toBeGreaterThan(0.9999)
      expect(yield* bench.runBatch([])).toEqual([])
      const prepared = bench.prepareBatch(rows)
      expect(prepared).toEqual({ rows: texts.length, length: Math.max(...rows.map((r) => r.ids.length)) })
      yield* bench.runPrepared(prepared)
      const error = yield* Effect.flip(bench.runPrepared({ rows: 1, length: 1 }))
      expect(error.reason).toMatchObject({ _tag: "BadData", detail: "BatchNotPrepared" })
      expect(error.message).toBe("runPrepared: this batch was not prepared by this embedder")
    }).pipe(Effect.scoped), 120_000)

  it.effect("its runs are not part of the production embedder", () =>
    Effect.gen(function*() {
      const production = yield* (yield* makeEmbedderFactory()).load("bge-small-en-v1.5-q")
      for (const name of ["runBatch", "prepareBatch", "runPrepared"]) expect(production).not.toHaveProperty(name)
    }).pipe(Effect.scoped), 120_000)
})
