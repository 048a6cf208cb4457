import { describe, expect, it } from "@effect/vitest"
import { Data, Duration, Effect, Ref } from "effect"
import { backoffDelay, isRetryable, withRetry } from "../src/index.ts"

class Failure extends Data.TaggedError("Failure")<{ reason: string; isRetryable: boolean; message: string }> {}

const policy = { attempts: 4, baseMs: 1, maxMs: 5 }

describe("withRetry", () => {
  it.live("retries retryable failures until success and reports each retry", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const retries = yield* Ref.make(0)
      const flaky = Ref.updateAndGet(calls, (n) => n + 1).pipe(
        Effect.flatMap((n) => (n < 3 ? Effect.fail(new Failure({ reason: "Deadlock", isRetryable: true, message: "deadlock" })) : Effect.succeed(n)))
      )
      const result = yield* withRetry(flaky, policy, () => Ref.update(retries, (n) => n + 1))
      expect(result).toBe(3)
      expect(yield* Ref.get(retries)).toBe(2)
    }))

  it.live("gives up after the configured attempts with the last failure", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const always = Ref.update(calls, (n) => n + 1).pipe(Effect.andThen(Effect.fail(new Failure({ reason: "ConnectionLost", isRetryable: true, message: "gone" }))))
      const r = yield* Effect.result(withRetry(always, policy, () => Effect.void))
      expect(r._tag).toBe("Failure")
      expect(yield* Ref.get(calls)).toBe(4)
    }))

  it.live("fails fast on non-retryable failures", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const syntax = Ref.update(calls, (n) => n + 1).pipe(Effect.andThen(Effect.fail(new Failure({ reason: "SyntaxError", isRetryable: false, message: "bad" }))))
      const r = yield* Effect.result(withRetry(syntax, policy, () => Effect.void))
      expect(r._tag).toBe("Failure")
      expect(yield* Ref.get(calls)).toBe(1)
      expect(isRetryable(new Failure({ reason: "x", isRetryable: false, message: "" }))).toBe(false)
    }))
})

describe("backoffDelay", () => {
  it("grows exponentially with jitter and never exceeds the cap", () => {
    const p = { attempts: 10, baseMs: 100, maxMs: 1000 }
    for (let n = 0; n < 8; n++) {
      const ms = Duration.toMillis(backoffDelay(p, n))
      expect(ms).toBeGreaterThanOrEqual(Math.min(1000, 50 * 2 ** n))
      expect(ms).toBeLessThanOrEqual(Math.min(1000, 150 * 2 ** n))
    }
  })
})
