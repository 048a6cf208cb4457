/** The messages between a session's owner and its thread (OnnxThread.ts); plain data only. */
import type { InferenceSession } from "onnxruntime-node"

/** One integer input, as a typed array the thread wraps in a tensor without copying. */
export interface Feed {
  readonly type: "int64" | "int32"
  readonly data: BigInt64Array | Int32Array
  readonly dims: ReadonlyArray<number>
}

/** A session's output, copied out of onnxruntime's memory. */
export interface OutputTensor {
  readonly data: unknown
  readonly dims: ReadonlyArray<number>
}

/** What model-IO detection reads of a session (an `InferenceSession` has it too). */
export interface SessionShape {
  readonly inputNames: ReadonlyArray<string>
  readonly outputNames: ReadonlyArray<string>
  readonly inputMetadata: ReadonlyArray<{ readonly name: string; readonly isTensor: boolean; readonly type?: string }>
}

export type ThreadRequest =
  | { readonly id: number; readonly kind: "open"; readonly path: string; readonly options: InferenceSession.SessionOptions }
  | { readonly id: number; readonly kind: "run"; readonly feeds: Record<string, Feed>; readonly output: string }
  | { readonly id: number; readonly kind: "release" }

export type ThreadReply =
  | ({ readonly id: number; readonly ok: true; readonly kind: "opened" } & SessionShape)
  | { readonly id: number; readonly ok: true; readonly kind: "ran"; readonly data: Float32Array | null; readonly dims: ReadonlyArray<number>; readonly type: string }
  | { readonly id: number; readonly ok: true; readonly kind: "released" }
  | { readonly id: number; readonly ok: false; readonly error: { readonly message: string; readonly name: string } }
