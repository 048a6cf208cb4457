import { Data } from "effect"
import { Reason } from "@polymath/engine"
import type { FailureReason } from "@polymath/engine"

/**
 * What went wrong, as the short word carried in the reason's `detail`.
 * - UnknownModel: the name is not in the registry (the message lists the known names).
 * - RegistryInvalid: the registry file is missing, unreadable or malformed.
 * - ConfigInvalid: an environment setting (POLYMATH_EP, POLYMATH_EMBED_THREADS, ...) has a bad value.
 * - ModelFilesMissing: the ONNX or tokenizer file is not in the models directory.
 * - TokenizerFailed: tokenizer.json could not be loaded.
 * - TokenizationFailed: encoding or decoding texts failed.
 * - SessionFailed: onnxruntime could not create the inference session.
 * - UnsupportedModel: the model's inputs/outputs are not ones this lib knows how to drive.
 * - DimensionMismatch: the model produced vectors of another size than the registry says.
 * - BatchNotPrepared: a benchmark ran a batch another session prepared.
 * - InferenceFailed: a session run failed.
 */
export type EmbeddingFailure =
  | "UnknownModel"
  | "RegistryInvalid"
  | "ConfigInvalid"
  | "ModelFilesMissing"
  | "TokenizerFailed"
  | "TokenizationFailed"
  | "SessionFailed"
  | "UnsupportedModel"
  | "DimensionMismatch"
  | "BatchNotPrepared"
  | "InferenceFailed"

/**
 * Model failures are deterministic (same files, same inputs, same failure), so no reason here is
 * retryable: a model or setup that is not usable is Unavailable, input it cannot take is BadData,
 * and an onnxruntime run failing for its own reasons is Unknown.
 */
const reasonOf: Record<EmbeddingFailure, (detail: EmbeddingFailure) => FailureReason> = {
  UnknownModel: (detail) => new Reason.Unavailable({ detail }),
  RegistryInvalid: (detail) => new Reason.Unavailable({ detail }),
  ConfigInvalid: (detail) => new Reason.BadData({ detail }),
  ModelFilesMissing: (detail) => new Reason.Unavailable({ detail }),
  TokenizerFailed: (detail) => new Reason.Unavailable({ detail }),
  TokenizationFailed: (detail) => new Reason.BadData({ detail }),
  SessionFailed: (detail) => new Reason.Unavailable({ detail }),
  UnsupportedModel: (detail) => new Reason.Unavailable({ detail }),
  DimensionMismatch: (detail) => new Reason.Unavailable({ detail }),
  BatchNotPrepared: (detail) => new Reason.BadData({ detail }),
  InferenceFailed: (detail) => new Reason.Unknown({ detail })
}

/** The one failure type of this lib. It satisfies the engine's `ConnectorFailure`. */
export class EmbeddingError extends Data.TaggedError("EmbeddingError")<{
  readonly reason: FailureReason
  readonly message: string
  /** The model the failure concerns, when there is one. */
  readonly model?: string
  /** The underlying error (onnxruntime, tokenizers, fs), for debugging. */
  readonly cause?: unknown
}> {
  get isRetryable(): boolean {
    return this.reason.isRetryable
  }
}

const describeCause = (cause: unknown): string =>
  cause instanceof Error ? cause.message : typeof cause === "string" ? cause : String(cause)

/** Builds an EmbeddingError classified by `failure`; a cause's message is appended to `message`. */
export const embeddingError = (
  failure: EmbeddingFailure,
  message: string,
  options: { readonly model?: string; readonly cause?: unknown } = {}
): EmbeddingError =>
  new EmbeddingError({
    reason: reasonOf[failure](failure),
    message: options.cause === undefined ? message : `${message}: ${describeCause(options.cause)}`,
    ...(options.model === undefined ? {} : { model: options.model }),
    ...(options.cause === undefined ? {} : { cause: options.cause })
  })
