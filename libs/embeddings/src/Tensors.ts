import type { ModelIo } from "./OnnxSession.ts"
import type { Feed } from "./OnnxThreadProtocol.ts"
import type { TokenizedText } from "./Tokenizer.ts"

/** What filling an input needs of its typed array, whatever the element type. */
interface IntArray<T> {
  [index: number]: T
  fill(value: T, start?: number, end?: number): unknown
}

/** An integer tensor element type: its array, how a token id becomes an element, its feed. */
interface IntKind<T, A extends IntArray<T>> {
  readonly make: (size: number) => A
  readonly of: (n: number) => T
  readonly feed: (values: A, dims: ReadonlyArray<number>) => Feed
}

const int64: IntKind<bigint, BigInt64Array> = {
  make: (size) => new BigInt64Array(size),
  of: BigInt,
  feed: (values, dims) => ({ type: "int64", data: values, dims })
}
const int32: IntKind<number, Int32Array> = {
  make: (size) => new Int32Array(size),
  of: (n) => n,
  feed: (values, dims) => ({ type: "int32", data: values, dims })
}

/**
 * One [rows × length] input, rows right-padded: input_ids with the pad id, attention_mask 0 and
 * token_type_ids 0 past a row's end (masked positions do not change the result).
 */
const inputFeed = <T, A extends IntArray<T>>(kind: IntKind<T, A>, name: string, rows: ReadonlyArray<TokenizedText>, length: number, padId: number): Feed => {
  const values = kind.make(rows.length * length)
  if (name === "input_ids" && padId !== 0) values.fill(kind.of(padId))
  const one = kind.of(1)
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r]!
    const base = r * length
    const n = row.ids.length
    if (name === "input_ids") for (let t = 0; t < n; t++) values[base + t] = kind.of(row.ids[t]!)
    else if (name === "attention_mask") values.fill(one, base, base + n)
    else for (let t = 0; t < n; t++) values[base + t] = kind.of(row.typeIds[t] ?? 0)
  }
  return kind.feed(values, [rows.length, length])
}

/** The session's inputs for rows right-padded to the longest (at least 1 long). */
export const buildFeeds = (
  io: ModelIo,
  rows: ReadonlyArray<TokenizedText>,
  padId: number
): { readonly feeds: Record<string, Feed>; readonly length: number } => {
  const length = rows.reduce((m, r) => Math.max(m, r.ids.length), 1)
  const feeds: Record<string, Feed> = {}
  for (const input of io.inputs) {
    feeds[input.name] = input.type === "int64"
      ? inputFeed(int64, input.name, rows, length, padId)
      : inputFeed(int32, input.name, rows, length, padId)
  }
  return { feeds, length }
}
