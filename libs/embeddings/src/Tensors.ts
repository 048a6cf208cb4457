import ort from "onnxruntime-node"
import type { Tensor } from "onnxruntime-node"
import type { ModelIo } from "./OnnxSession.ts"
import type { TokenizedText } from "./Tokenizer.ts"

/** What filling an input needs of its typed array, whatever the element type. */
interface IntArray<T> {
  [index: number]: T
  fill(value: T, start?: number, end?: number): unknown
}

/** An integer tensor element type: its array, how a token id becomes an element, its tensor. */
interface IntKind<T, A extends IntArray<T>> {
  readonly make: (size: number) => A
  readonly of: (n: number) => T
  readonly tensor: (values: A, dims: ReadonlyArray<number>) => Tensor
}

const int64: IntKind<bigint, BigInt64Array> = {
  make: (size) => new BigInt64Array(size),
  of: BigInt,
  tensor: (values, dims) => new ort.Tensor("int64", values, dims)
}
const int32: IntKind<number, Int32Array> = {
  make: (size) => new Int32Array(size),
  of: (n) => n,
  tensor: (values, dims) => new ort.Tensor("int32", values, dims)
}

/**
 * One [rows × length] input, rows right-padded: input_ids with the pad id, attention_mask 0 and
 * token_type_ids 0 past a row's end (masked positions do not change the result).
 */
const inputTensor = <T, A extends IntArray<T>>(kind: IntKind<T, A>, name: string, rows: ReadonlyArray<TokenizedText>, length: number, padId: number): Tensor => {
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
  return kind.tensor(values, [rows.length, length])
}

/** The session's input tensors for rows right-padded to the longest (at least 1 long). */
export const buildFeeds = (
  io: ModelIo,
  rows: ReadonlyArray<TokenizedText>,
  padId: number
): { readonly feeds: Record<string, Tensor>; readonly length: number } => {
  const length = rows.reduce((m, r) => Math.max(m, r.ids.length), 1)
  const feeds: Record<string, Tensor> = {}
  for (const input of io.inputs) {
    feeds[input.name] = input.type === "int64"
      ? inputTensor(int64, input.name, rows, length, padId)
      : inputTensor(int32, input.name, rows, length, padId)
  }
  return { feeds, length }
}

/** Frees the native memory of a run's outputs now rather than at garbage collection. */
export const disposeAll = (outputs: Record<string, Tensor>): void => {
  for (const out of Object.values(outputs)) out.dispose()
}
