import { Data } from "effect"

/**
 * Why an embedding operation failed.
 * - UnknownModel: the name is not in the registry (the message lists the known names).
 * - RegistryInvalid: the registry file is missing, unreadable or malformed.
 * - ModelFilesMissing: the ONNX or tokenizer file is not in the models directory.
 * - TokenizerFailed: tokenizer.json could not be loaded, or encoding failed.
 * - SessionFailed: onnxruntime could not create the inference session.
 * - UnsupportedModel: the model's inputs/outputs are not ones this lib knows how to drive.
 * - DimensionMismatch: the model produced vectors of another size than the registry says.
 * - InferenceFailed: a session run failed.
 */
export type EmbeddingErrorReason =
  | "UnknownModel"
  | "RegistryInvalid"
  | "ModelFilesMissing"
  | "TokenizerFailed"
  | "SessionFailed"
  | "UnsupportedModel"
  | "DimensionMismatch"
  | "InferenceFailed"

/**
 * The one failure type of this lib. It satisfies the engine's `ConnectorFailure`.
 * Model errors are deterministic (same files, same inputs, same failure), so none is retryable.
 */
export class EmbeddingError extends Data.TaggedError("EmbeddingError")<{
  readonly reason: EmbeddingErrorReason
  readonly isRetryable: boolean
  readonly message: string
  /** The model the failure concerns, when there is one. */
  readonly model?: string
  /** The underlying error (onnxruntime, tokenizers, fs), for debugging. */
  readonly cause?: unknown
}> {}

const describeCause = (cause: unknown): string =>
  cause instanceof Error ? cause.message : typeof cause === "string" ? cause : String(cause)

/** Builds a (non-retryable) EmbeddingError; a cause's message is appended to `message`. */
export const embeddingError = (
  reason: EmbeddingErrorReason,
  message: string,
  options: { readonly model?: string; readonly cause?: unknown } = {}
): EmbeddingError =>
  new EmbeddingError({
    reason,
    isRetryable: false,
    message: options.cause === undefined ? message : `${message}: ${describeCause(options.cause)}`,
    ...(options.model === undefined ? {} : { model: options.model }),
    ...(options.cause === undefined ? {} : { cause: options.cause })
  })
