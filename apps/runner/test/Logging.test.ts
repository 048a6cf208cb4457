import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { loggingLayer } from "../src/Logging.ts"

const capture = (format: "text" | "json", level: "debug" | "info" | "warn" | "error", program: Effect.Effect<void>) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    yield* program.pipe(Effect.provide(loggingLayer(format, level, (l) => void lines.push(l))))
    return lines
  })

const sample = Effect.gen(function*() {
  yield* Effect.logDebug("looking closely")
  yield* Effect.logInfo("run 1234")
  yield* Effect.logWarning("retrying after a transient failure").pipe(Effect.annotateLogs({ step: "sync", unit: "sync/nodes[0]:Paper", attempt: 2 }))
  yield* Effect.logError("error: step sync failed")
}).pipe(Effect.annotateLogs({ run_id: "r-1", pipeline: "batch-v1" }))

describe("logging", () => {
  it.effect("text: info as the bare message, warnings prefixed with where they came from, errors as given", () =>
    Effect.gen(function*() {
      const lines = yield* capture("text", "info", sample)
      expect(lines).toEqual([
        "run 1234",
        "warning: retrying after a transient failure (step=sync, unit=sync/nodes[0]:Paper)",
        "error: step sync failed"
      ])
    }))

  it.effect("json: one object per line with level, message and every annotation flat", () =>
    Effect.gen(function*() {
      const lines = yield* capture("json", "debug", sample)
      const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>)
      expect(records.map((r) => r["level"])).toEqual(["debug", "info", "warn", "error"])
      expect(records[2]).toMatchObject({ message: "retrying after a transient failure", run_id: "r-1", pipeline: "batch-v1", step: "sync", attempt: 2 })
      expect(typeof records[0]!["time"]).toBe("string")
    }))

  it.effect("the level filters", () =>
    Effect.gen(function*() {
      expect(yield* capture("text", "warn", sample)).toHaveLength(2)
      expect(yield* capture("text", "error", sample)).toEqual(["error: step sync failed"])
    }))
})
