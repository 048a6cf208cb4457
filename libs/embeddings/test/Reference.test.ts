/**
 * Compares our tokenizer and embedder with reference ids and vectors computed independently by
 * Python's `tokenizers` + `onnxruntime` (tools/model/reference.py). Assumes `npm run model` has run.
 */
import { readFileSync } from "node:fs"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { makeEmbedderFactory } from "../src/index.ts"

interface ReferenceCase {
  readonly label: string
  readonly text: string
  readonly ids: ReadonlyArray<number>
  readonly fp32: ReadonlyArray<number>
  readonly int8: ReadonlyArray<number>
}

const reference = JSON.parse(
  readFileSync(new URL("./data/bge-small-en-v1.5.reference.json", import.meta.url), "utf8")
) as { readonly maxTokens: number; readonly cases: ReadonlyArray<ReferenceCase> }

const cosine = (a: ArrayLike<number>, b: ArrayLike<number>) => {
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

const texts = reference.cases.map((c) => c.text)

describe("bge-small-en-v1.5 against the Python reference", () => {
  for (const [name, variant, threshold] of [
    ["bge-small-en-v1.5", "fp32", 0.9999],
    ["bge-small-en-v1.5-q", "int8", 0.999]
  ] as const) {
    it.effect(`${name}: identical token ids and cosine >= ${threshold}, one by one and batched`, () =>
      Effect.gen(function*() {
        const factory = yield* makeEmbedderFactory()
        const model = yield* factory.load(name)
        expect(model.maxTokens).toBe(reference.maxTokens)

        const encodings = yield* model.tokenizer.encode(texts)
        reference.cases.forEach((c, i) => {
          expect(encodings[i]!.ids, c.label).toEqual(c.ids)
        })

        const batched = yield* model.embed(texts)
        for (const [i, c] of reference.cases.entries()) {
          const [single] = yield* model.embed([c.text])
          expect(cosine(single!, c[variant]), `${c.label} (single)`).toBeGreaterThanOrEqual(threshold)
          expect(cosine(batched[i]!, c[variant]), `${c.label} (batched)`).toBeGreaterThanOrEqual(threshold)
        }
      }), 120_000)
  }
})
