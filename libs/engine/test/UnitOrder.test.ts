import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Ref } from "effect"
import { loadPipeline } from "@polymath/dsl"
import { compile } from "../src/index.ts"
import type { GraphUnit } from "../src/index.ts"
import { runInDependencyOrder, unitDependencies } from "../src/run/UnitOrder.ts"

const env = { POSTGRES_DSN: "postgres://u:p@h/db", NEO4J_URI: "bolt://h:1" }

// Only the fields the ordering reads; the rest of a unit does not matter to it.
const node = (label: string, labelFrom: { map: Record<string, string> | null } | null = null) =>
  ({ kind: "nodes", write: { kind: "nodes", label, labelFrom: labelFrom === null ? null : { column: "c", map: labelFrom.map } } }) as unknown as GraphUnit
const rel = (type: string, start: string, end: string) =>
  ({ kind: "relationships", write: { kind: "relationships", type, start: { label: start }, end: { label: end } } }) as unknown as GraphUnit

describe("unitDependencies", () => {
  it.effect("batch-v1: the three node labels at once, FROM_PAPER after Paper and Passage, MENTIONS after Passage, Concept and FROM_PAPER", () =>
    Effect.gen(function*() {
      const plan = compile(yield* loadPipeline("batch-v1", { env, set: ["model=bge-small-en-v1.5"] }))
      const graph = plan.steps.find((s) => s.kind === "graph")!
      if (graph.kind !== "graph") throw new Error("expected graph")
      expect(unitDependencies(graph.units)).toEqual([[], [], [], [0, 1], [1, 2, 3]])
    }))

  it("keeps units on a common label in order, and a label made from values waits on everything", () => {
    expect(unitDependencies([node("A"), node("A"), node("B")])).toEqual([[], [0], []])
    // Concept with mapped extra labels shares :Method with a Method node unit.
    expect(unitDependencies([node("Concept", { map: { method: "Method" } }), node("Method"), node("Paper")])).toEqual([[], [0], []])
    // labels_from without a map may make any label.
    expect(unitDependencies([node("Paper"), node("Concept", { map: null }), node("Author")])).toEqual([[], [0], [1]])
    // A relationship waits for its endpoints' units only, and for relationships of its type or on a common endpoint label.
    expect(unitDependencies([node("A"), node("B"), node("C"), rel("R", "A", "B"), rel("S", "C", "C"), rel("R", "C", "C"), rel("T", "X", "Y")])).toEqual([
      [], [], [], [0, 1], [2], [2, 3, 4], []
    ])
  })
})

describe("runInDependencyOrder", () => {
  it.effect("runs independent tasks at the same time and a dependent one after both", () =>
    Effect.gen(function*() {
      const events: Array<string> = []
      const oneStarted = yield* Deferred.make<void>()
      const stop = yield* Ref.make(false)
      const results = yield* runInDependencyOrder(
        [[], [], [0, 1]],
        (i) =>
          Effect.gen(function*() {
            events.push(`start ${i}`)
            // Task 0 can only end once task 1 has started: run one after the other, this would hang.
            if (i === 0) yield* Deferred.await(oneStarted)
            if (i === 1) yield* Deferred.succeed(oneStarted, undefined)
            yield* Effect.yieldNow
            events.push(`end ${i}`)
            return i
          }),
        () => true,
        stop
      ).pipe(Effect.timeout("5 seconds"))
      expect(results).toEqual([0, 1, 2])
      expect(events.indexOf("start 2")).toBeGreaterThan(Math.max(events.indexOf("end 0"), events.indexOf("end 1")))
      expect(yield* Ref.get(stop)).toBe(false)
    }))

  it.effect("a failure sets stop, skips its dependents and is the result once the others end", () =>
    Effect.gen(function*() {
      const stop = yield* Ref.make(false)
      const ran: Array<number> = []
      const twoStarted = yield* Deferred.make<void>()
      const exit = yield* runInDependencyOrder(
        [[], [0], []],
        (i) =>
          Effect.suspend(() => {
            ran.push(i)
            // Task 0 fails while task 2 runs: task 2 still ends; task 1, waiting on 0, never starts.
            return i === 0
              ? Effect.andThen(Deferred.await(twoStarted), Effect.fail(`task ${i} failed`))
              : Effect.andThen(Deferred.succeed(twoStarted, undefined), Effect.succeed(i))
          }),
        () => true,
        stop
      ).pipe(Effect.exit)
      expect(exit).toEqual(Exit.fail("task 0 failed"))
      expect(ran.sort()).toEqual([0, 2])
      expect(yield* Ref.get(stop)).toBe(true)
    }))

  it.effect("a task that did not complete (stopped) holds back its dependents; nothing starts once stop is set", () =>
    Effect.gen(function*() {
      const stop = yield* Ref.make(false)
      const results = yield* runInDependencyOrder([[], [0], []], (i) => Effect.succeed(i === 0 ? "stopped" : "done"), (r) => r === "done", stop)
      expect(results).toEqual(["stopped", undefined, "done"])
      yield* Ref.set(stop, true)
      const none = yield* runInDependencyOrder([[], []], () => Effect.succeed("done"), () => true, stop)
      expect(none).toEqual([undefined, undefined])
    }))
})
