import { Predicate } from "effect"
import type { FailureReason } from "./FailureReason.ts"
import { isFailureReason } from "./FailureReason.ts"

/**
 * What the engine needs to know about any connector failure. Each connector lib
 * defines its own tagged error class (PgError, Neo4jError, EmbeddingError) with
 * these fields; the engine's retry policy reads `isRetryable` (its reason's) and
 * never inspects driver-specific details.
 */
export interface ConnectorFailure {
  readonly _tag: string
  /** Why it failed, classified; its `isRetryable` decides retries. */
  readonly reason: FailureReason
  /** True for transient failures that a retried batch may overcome (the reason's). */
  readonly isRetryable: boolean
  /** A human-readable message that never contains secrets. */
  readonly message: string
}

/** Narrows an unknown failure to a ConnectorFailure. */
export const isConnectorFailure = (u: unknown): u is ConnectorFailure =>
  Predicate.hasProperty(u, "isRetryable") &&
  typeof u.isRetryable === "boolean" &&
  Predicate.hasProperty(u, "reason") &&
  isFailureReason(u.reason)

/** True when a failure is transient and may be retried. */
export const isRetryable = (u: unknown): boolean => isConnectorFailure(u) && u.isRetryable
