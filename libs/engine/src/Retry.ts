import { Context, Duration, Effect, Schedule } from "effect"
import { isConnectorFailure, isRetryable } from "./ConnectorError.ts"
import { describeReason } from "./FailureReason.ts"
import { retriesTotal } from "./Telemetry.ts"

/** How a step retries transient failures. */
export interface RetryPolicy {
  /** Total tries including the first. */
  readonly attempts: number
  readonly baseMs: number
  readonly maxMs: number
}

/** Sane defaults: 6 tries, 200 ms doubling with jitter, capped at 10 s. */
export const defaultRetry: RetryPolicy = { attempts: 6, baseMs: 200, maxMs: 10_000 }

/** What a retry is told: which retry this is (1-based), why, and how long it waits. */
export interface RetryEvent {
  readonly attempt: number
  readonly error: unknown
  readonly delay: Duration.Duration
}

/**
 * Told the reason of every retry made beneath it (a unit provides one to report its
 * retries by reason); nothing by default.
 */
export const RetryObserver = Context.Reference<(reason: string) => Effect.Effect<void>>("@polymath/engine/RetryObserver", {
  defaultValue: () => () => Effect.void
})

const why = (e: unknown): string =>
  isConnectorFailure(e) ? `${describeReason(e.reason)}: ${e.message}` : e instanceof Error ? e.message : String(e)

/**
 * The one retry schedule of the engine: exponential backoff from `baseMs`, jittered,
 * capped at `maxMs`, while the failure is retryable and tries remain. Every retry it
 * decides on is logged once (attempt, reason, delay; the caller's log annotations say
 * which step and unit), counted in the `polymath_retries` metric, and passed to
 * `onRetry`. A failure it gives up on is not logged here: it surfaces as the error.
 */
export const retrySchedule = (policy: RetryPolicy, onRetry: (event: RetryEvent) => Effect.Effect<void> = () => Effect.void) =>
  Schedule.exponential(Duration.millis(policy.baseMs)).pipe(
    Schedule.jittered,
    Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, Duration.millis(policy.maxMs)))),
    Schedule.while(({ attempt, input }) => Effect.succeed(isRetryable(input) && attempt < policy.attempts)),
    Schedule.tap(({ attempt, duration, input }) =>
      Effect.logWarning(`retrying after a transient failure (attempt ${attempt + 1} of ${policy.attempts}, in ${Math.round(Duration.toMillis(duration))} ms): ${why(input)}`).pipe(
        Effect.annotateLogs({
          attempt: attempt + 1,
          reason: isConnectorFailure(input) ? input.reason._tag : "Unknown",
          delay_ms: Math.round(Duration.toMillis(duration))
        }),
        Effect.andThen(retriesTotal(isConnectorFailure(input) ? input.reason._tag : "Unknown")),
        Effect.andThen(Effect.flatMap(RetryObserver, (observe) => observe(isConnectorFailure(input) ? input.reason._tag : "Unknown"))),
        Effect.andThen(onRetry({ attempt, error: input, delay: duration }))
      )
    )
  )

/**
 * Retries `effect` on retryable failures per `policy`; `onRetry` is told of each
 * retry (for the summary's retried count). Other failures pass through at once.
 */
export const withRetry = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  policy: RetryPolicy,
  onRetry: (error: E) => Effect.Effect<void>
): Effect.Effect<A, E, R> => Effect.retry(effect, retrySchedule(policy, (event) => onRetry(event.error as E)))
