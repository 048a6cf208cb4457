import { Duration, Effect, Schedule } from "effect"
import { isRetryable } from "./ConnectorError.ts"

/** How a step retries transient failures. */
export interface RetryPolicy {
  /** Total tries including the first. */
  readonly attempts: number
  readonly baseMs: number
  readonly maxMs: number
}

/** Sane defaults: 6 tries, 200 ms doubling with jitter, capped at 10 s. */
export const defaultRetry: RetryPolicy = { attempts: 6, baseMs: 200, maxMs: 10_000 }

/** Exponential backoff with jitter and a cap, only while the failure is retryable. */
export const retrySchedule = (policy: RetryPolicy) =>
  Schedule.exponential(Duration.millis(policy.baseMs)).pipe(
    Schedule.jittered,
    Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, Duration.millis(policy.maxMs))))
  )

/** The delay before retry number `n` (0-based): exponential, jittered (x0.5..1.5), capped. */
export const backoffDelay = (policy: RetryPolicy, n: number): Duration.Duration =>
  Duration.millis(Math.min(policy.maxMs, policy.baseMs * 2 ** n * (0.5 + Math.random())))

/**
 * Retries `effect` on retryable failures per `policy`; `onRetry` is told of each
 * retry (for the summary's retried count). Other failures pass through at once.
 */
export const withRetry = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  policy: RetryPolicy,
  onRetry: (error: E) => Effect.Effect<void>
): Effect.Effect<A, E, R> =>
  effect.pipe(
    Effect.tapError((e) => (isRetryable(e) ? onRetry(e) : Effect.void)),
    Effect.retry({ schedule: retrySchedule(policy), times: Math.max(0, policy.attempts - 1), while: (e) => isRetryable(e) })
  )
