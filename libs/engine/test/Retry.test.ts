import { describe, expect, it } from "@effect/vitest"
import { Data, Duration, Effect, Fiber, Logger, Ref } from "effect"
import { TestClock } from "effect/testing"
import { isRetryable, Reason, RetryObserver, retrySchedule, withRetry } from "../src/index.ts"
import type { FailureReason, RetryEvent } from "../src/index.ts"

class Failure extends Data.TaggedError("Failure")<{ reason: FailureReason; message: string }> {
  get isRetryable(): boolean {
    return this.reason.isRetryable
  }
}

const deadlock = new Failure({ reason: new Reason.Deadlock({ detail: "40P01" }), message: "deadlock detected" })
const syntax = new Failure({ reason: new Reason.Syntax({ detail: "42601" }), message: "bad" })
const policy = { attempts: 4, baseMs: 1000, maxMs: 3000 }

// Collects what the retry policy logs, as structured entries.
const collectLogs = Effect.gen(function*() {
  const entries: Array<{ level: string; message: unknown; annotations: Record<string, unknown> }> = []
  const collector = Logger.make((o) => void entries.push(Logger.formatStructured.log(o)))
  return { entries, layer: Logger.layer([collector]) }
})

describe("withRetry (virtual time: no real sleeping)", () => {
  it.effect("retries retryable failures after growing delays, reports each retry once and logs why", () =>
    Effect.gen(function*() {
      const { entries, layer } = yield* collectLogs
      const calls = yield* Ref.make(0)
      const retries = yield* Ref.make(0)
      const flaky = Ref.updateAndGet(calls, (n) => n + 1).pipe(Effect.flatMap((n) => (n < 3 ? Effect.fail(deadlock) : Effect.succeed(n))))
      const fiber = yield* withRetry(flaky, policy, () => Ref.update(retries, (n) => n + 1)).pipe(
        Effect.annotateLogs({ step: "embed", unit: "embed" }),
        Effect.provide(layer),
        Effect.forkChild
      )
      // The first retry waits 1 s ± 20 %: nothing may happen before 0.8 s.
      yield* TestClock.adjust("799 millis")
      expect(yield* Ref.get(calls)).toBe(1)
      yield* TestClock.adjust("10 seconds")
      expect(yield* Fiber.join(fiber)).toBe(3)
      expect(yield* Ref.get(retries)).toBe(2)
      const logged = entries.filter((e) => String(e.message).includes("retrying"))
      expect(logged).toHaveLength(2)
      expect(logged[0]!.level).toBe("WARN")
      expect(logged[0]!.annotations).toMatchObject({ step: "embed", unit: "embed", attempt: 2, reason: "Deadlock" })
      expect(String(logged[0]!.message)).toContain("Deadlock(40P01): deadlock detected")
      expect(logged[1]!.annotations["attempt"]).toBe(3)
    }))

  it.effect("gives up after the configured attempts with the last failure, and does not log a retry it will not make", () =>
    Effect.gen(function*() {
      const { entries, layer } = yield* collectLogs
      const calls = yield* Ref.make(0)
      const always = Ref.update(calls, (n) => n + 1).pipe(Effect.andThen(Effect.fail(deadlock)))
      const fiber = yield* Effect.result(withRetry(always, policy, () => Effect.void)).pipe(Effect.provide(layer), Effect.forkChild)
      yield* TestClock.adjust("1 minute")
      const r = yield* Fiber.join(fiber)
      expect(r._tag).toBe("Failure")
      expect(yield* Ref.get(calls)).toBe(4)
      expect(entries.filter((e) => String(e.message).includes("retrying"))).toHaveLength(3)
    }))

  it.effect("fails fast on non-retryable failures", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const bad = Ref.update(calls, (n) => n + 1).pipe(Effect.andThen(Effect.fail(syntax)))
      const r = yield* Effect.result(withRetry(bad, policy, () => Effect.void))
      expect(r._tag).toBe("Failure")
      expect(yield* Ref.get(calls)).toBe(1)
      expect(isRetryable(syntax)).toBe(false)
      expect(isRetryable(deadlock)).toBe(true)
      expect(isRetryable(new Error("plain"))).toBe(false)
    }))

  it.effect("delays grow exponentially with jitter (x0.8..1.2) and never exceed the cap", () =>
    Effect.gen(function*() {
      const events: Array<RetryEvent> = []
      const always = Effect.fail(deadlock)
      const p = { attempts: 8, baseMs: 100, maxMs: 1000 }
      const fiber = yield* Effect.retry(always, retrySchedule(p, (e) => Effect.sync(() => void events.push(e)))).pipe(Effect.result, Effect.forkChild)
      yield* TestClock.adjust("1 minute")
      yield* Fiber.join(fiber)
      expect(events.map((e) => e.attempt)).toEqual([1, 2, 3, 4, 5, 6, 7])
      for (const [n, e] of events.entries()) {
        const ms = Duration.toMillis(e.delay)
        expect(ms).toBeGreaterThanOrEqual(Math.min(1000, 80 * 2 ** n))
        expect(ms).toBeLessThanOrEqual(Math.min(1000, 120 * 2 ** n))
      }
    }))

  it.effect("tells the observer beneath it the reason of each retry", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const calls = yield* Ref.make(0)
      const flaky = Ref.updateAndGet(calls, (n) => n + 1).pipe(Effect.flatMap((n) => (n < 3 ? Effect.fail(deadlock) : Effect.succeed(n))))
      const fiber = yield* withRetry(flaky, policy, () => Effect.void).pipe(
        Effect.provideService(RetryObserver, (reason) => Effect.sync(() => void seen.push(reason))),
        Effect.forkChild
      )
      yield* TestClock.adjust("1 minute")
      yield* Fiber.join(fiber)
      expect(seen).toEqual(["Deadlock", "Deadlock"])
    }))
})
