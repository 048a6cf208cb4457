import { Predicate } from "effect"

/**
 * What the engine needs to know about any connector failure. Each connector lib
 * defines its own tagged error class with these fields; the engine's retry policy
 * reads `isRetryable` and never inspects driver-specific details.
 */
export interface ConnectorFailure {
  readonly _tag: string
  /** A short machine-readable cause, e.g. "ConnectionLost", "Deadlock", "SyntaxError". */
  readonly reason: string
  /** True for transient failures that a retried batch may overcome. */
  readonly isRetryable: boolean
  /** A human-readable message that never contains secrets. */
  readonly message: string
}

/** Narrows an unknown failure to a ConnectorFailure. */
export const isConnectorFailure = (u: unknown): u is ConnectorFailure =>
  Predicate.hasProperty(u, "isRetryable") &&
  typeof u.isRetryable === "boolean" &&
  Predicate.hasProperty(u, "reason") &&
  typeof u.reason === "string"

/** True when a failure is transient and may be retried. */
export const isRetryable = (u: unknown): boolean => isConnectorFailure(u) && u.isRetryable
