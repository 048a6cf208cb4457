import { readFileSync } from "node:fs"
import { Effect } from "effect"
import { embeddingError } from "./EmbeddingError.ts"
import type { EmbeddingError } from "./EmbeddingError.ts"

/**
 * Tokenization with the Hugging Face `tokenizers` Rust core through its N-API binding
 * (npm `tokenizers`). It gives the same ids as Python's `tokenizers`/`transformers` and,
 * on our benchmark, was faster than the pure-JS `@huggingface/tokenizers` while running
 * off the main thread (see libs/embeddings/README.md).
 */

/** One encoded text: [CLS] ... [SEP] (or the model's own template), at most `maxTokens` long. */
export interface TokenizedText {
  readonly ids: ReadonlyArray<number>
  readonly typeIds: ReadonlyArray<number>
}

export interface Tokenizer {
  readonly path: string
  /** Encodings are truncated to this many tokens, special tokens included. */
  readonly maxTokens: number
  /** The id batches are padded with: the tokenizer's padding id, else [PAD] / <pad>, else 0. */
  readonly padId: number
  /** Encodes texts in order. */
  readonly encode: (texts: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<TokenizedText>, EmbeddingError>
  /** Turns ids back into text (special tokens skipped), e.g. to build texts of a given token length. */
  readonly decode: (ids: ReadonlyArray<number>) => Effect.Effect<string, EmbeddingError>
}

/**
 * Loads a tokenizer.json and sets truncation the way Hugging Face truncates
 * (`truncation=True, max_length=maxTokens`): longest-first from the right, with the special
 * tokens of the post-processor counted, so the result keeps [CLS] ... [SEP] within `maxTokens`.
 * Padding is disabled: the embedder pads each batch to its longest row itself.
 */
export const loadTokenizer = (
  path: string,
  options: { readonly maxTokens: number; readonly model?: string }
): Effect.Effect<Tokenizer, EmbeddingError> => {
  const errorOptions = options.model === undefined ? {} : { model: options.model }
  // Loaded on first use: commands that embed nothing do not pay for the native binding at start-up.
  return Effect.tryPromise({
    try: async () => {
      const { Tokenizer: HfTokenizer } = await import("tokenizers")
      const json = readFileSync(path, "utf8")
      const tokenizer = HfTokenizer.fromString(json)
      // Defaults: strategy LongestFirst, direction Right, stride 0 (as transformers with truncation=True).
      tokenizer.setTruncation(options.maxTokens)
      const padding = (JSON.parse(json) as { padding?: { pad_id?: unknown } | null }).padding
      tokenizer.disablePadding()
      const padId = typeof padding?.pad_id === "number"
        ? padding.pad_id
        : (tokenizer.tokenToId("[PAD]") ?? tokenizer.tokenToId("<pad>") ?? 0)
      return { tokenizer, padId }
    },
    catch: (cause) => embeddingError("TokenizerFailed", `cannot load tokenizer ${path}`, { ...errorOptions, cause })
  }).pipe(
    Effect.map(({ tokenizer, padId }): Tokenizer => ({
      path,
      maxTokens: options.maxTokens,
      padId,
      encode: (texts) =>
        texts.length === 0
          ? Effect.succeed([])
          : Effect.tryPromise({
            // encodeBatch runs on the binding's own thread pool, off the JS thread.
            try: () => tokenizer.encodeBatch([...texts]),
            catch: (cause) => embeddingError("TokenizationFailed", `tokenization failed`, { ...errorOptions, cause })
          }).pipe(Effect.map((encodings) => encodings.map((e) => ({ ids: e.getIds(), typeIds: e.getTypeIds() })))),
      decode: (ids) =>
        Effect.tryPromise({
          try: () => tokenizer.decode([...ids], true),
          catch: (cause) => embeddingError("TokenizationFailed", `decoding failed`, { ...errorOptions, cause })
        })
    }))
  )
}
