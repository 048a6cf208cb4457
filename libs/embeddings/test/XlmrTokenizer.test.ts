/**
 * Our tokenizer (src/Tokenizer.ts) on an XLM-RoBERTa-style tokenizer.json, the layout BGE-M3 uses
 * (SentencePiece Unigram, precompiled normalizer, Metaspace, `<s> $A </s>`), against ids computed
 * independently by Python's `tokenizers` (tools/model/xlmr/reference_ids.py). The tokenizer.json is
 * a small (8k pieces) unigram model trained by tools/model/xlmr/make_tokenizer.py, because
 * BGE-M3's own file cannot be shipped with the tests. Needs no model download.
 */
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { loadTokenizer } from "../src/Tokenizer.ts"

interface ReferenceCase {
  readonly label: string
  readonly text: string
  readonly length: number
  readonly ids: ReadonlyArray<number>
  readonly truncated: ReadonlyArray<number>
}

const dataDir = new URL("./data/xlmr/", import.meta.url)
const tokenizerPath = fileURLToPath(new URL("tokenizer.json", dataDir))
const reference = JSON.parse(readFileSync(new URL("reference.json", dataDir), "utf8")) as {
  readonly maxTokens: number
  readonly cases: ReadonlyArray<ReferenceCase>
}
const texts = reference.cases.map((c) => c.text)

// loadTokenizer always truncates; a limit above every reference length means "no truncation".
const noLimit = 1_000_000

const BOS = 0
const PAD = 1
const EOS = 2

describe("XLM-R tokenizer.json (BGE-M3 layout) against Python tokenizers", () => {
  it("the reference covers what it should", () => {
    const lengths = new Map(reference.cases.map((c) => [c.label, c.length]))
    expect(reference.maxTokens).toBe(512)
    expect(reference.cases.length).toBeGreaterThanOrEqual(30)
    expect(lengths.get("empty")).toBe(2)
    for (const n of [510, 511, 512, 513, 514]) expect(lengths.get(`len-${n}`)).toBe(n)
    expect(lengths.get("huge-mixed")).toBeGreaterThan(8192)
  })

  it.effect("untruncated ids equal the reference for every text, batched and one by one", () =>
    Effect.gen(function*() {
      const tokenizer = yield* loadTokenizer(tokenizerPath, { maxTokens: noLimit, model: "xlmr-test" })
      expect(tokenizer.padId).toBe(PAD)

      const batched = yield* tokenizer.encode(texts)
      expect(batched.length).toBe(texts.length)
      for (const [i, c] of reference.cases.entries()) {
        expect(batched[i]!.ids, c.label).toEqual(c.ids)
        expect(batched[i]!.typeIds.every((t) => t === 0), `${c.label} type ids`).toBe(true)
        const [single] = yield* tokenizer.encode([c.text])
        expect(single!.ids, `${c.label} (alone)`).toEqual(c.ids)
      }
    }))

  it.effect(`ids truncated at ${reference.maxTokens} equal the reference (keeps <s> ... </s>)`, () =>
    Effect.gen(function*() {
      const tokenizer = yield* loadTokenizer(tokenizerPath, { maxTokens: reference.maxTokens, model: "xlmr-test" })
      const encodings = yield* tokenizer.encode(texts)
      for (const [i, c] of reference.cases.entries()) {
        const ids = encodings[i]!.ids
        expect(ids, c.label).toEqual(c.truncated)
        expect(ids.length, c.label).toBe(Math.min(c.length, reference.maxTokens))
        expect(ids[0], c.label).toBe(BOS)
        expect(ids[ids.length - 1], c.label).toBe(EOS)
      }
    }))
})
