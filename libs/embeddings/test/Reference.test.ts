/**
 * Compares our tokenizer and embedder with reference ids and vectors computed independently by
 * Python's `tokenizers` + `onnxruntime` (tools/model/reference.py). Assumes `npm run model` has run.
 */
import { existsSync, readFileSync } from "node:fs"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { loadModelRegistry, makeEmbedderFactory } from "../src/index.ts"

interface ReferenceCase {
  readonly label: string
  readonly text: string
  readonly ids: ReadonlyArray<number>
  readonly fp32: ReadonlyArray<number>
  readonly int8: ReadonlyArray<number>
}

const referenceFile = (model: string) => new URL(`./data/${model}.reference.json`, import.meta.url)
const readReference = (model: string) =>
  JSON.parse(readFileSync(referenceFile(model), "utf8")) as { readonly maxTokens: number; readonly cases: ReadonlyArray<ReferenceCase> }
const reference = readReference("bge-small-en-v1.5")

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
        const factory = yield* makeEmbedderFactory({ precision: "fp32" })
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

  // The quality gate of int8 auto-selection: a registry entry may name an int8Variant (run in its
  // place on CPU) only if that variant's vectors stay within cosine 0.99 of the model's fp32
  // reference vectors. Every declared variant must have a reference set here, or this fails.
  it.effect("every declared int8 variant, as chosen on CPU, is within cosine 0.99 of its model's fp32 reference", () =>
    Effect.gen(function*() {
      const registry = yield* loadModelRegistry()
      const declared = []
      for (const name of registry.names) {
        const entry = yield* registry.lookup(name)
        if (entry.int8Variant !== undefined) declared.push(entry)
      }
      expect(declared.map((e) => e.name)).toContain("bge-small-en-v1.5")
      for (const entry of declared) {
        expect(existsSync(referenceFile(entry.name)), `${entry.name} declares int8Variant ${entry.int8Variant} but has no reference set`).toBe(true)
        const ref = readReference(entry.name)
        const model = yield* (yield* makeEmbedderFactory({ provider: "cpu", precision: "auto" })).load(entry.name)
        expect([model.model.name, model.variant]).toEqual([entry.name, entry.int8Variant])
        const vectors = yield* model.embed(ref.cases.map((c) => c.text))
        for (const [i, c] of ref.cases.entries()) {
          expect(cosine(vectors[i]!, c.fp32), `${entry.name} via ${entry.int8Variant}: ${c.label}`).toBeGreaterThanOrEqual(0.99)
        }
      }
    }).pipe(Effect.scoped), 120_000)
})
