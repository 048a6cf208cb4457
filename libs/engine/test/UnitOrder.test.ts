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
  // A task as a unit runs: it reads at once, then awaits `ready` before it writes.
  const unitLike = (events: Array<string>, body: (i: number) => Effect.Effect<void> = () => Effect.void) => (i: number, ready: Effect.Effect<boolean>) =>
    Effect.gen(function*() {
      events.push(`read ${i}`)
      yield* body(i)
      if (!(yield* ready)) {
        events.push(`stopped ${i}`)
        return "stopped"
      }
      events.push(`write ${i}`)
      yield* Effect.yieldNow
      events.push(`end ${i}`)
      return "done"
    })

  it.effect("runs independent tasks at the same time; a dependent one reads meanwhile and writes after both", () =>
    Effect.gen(function*() {
      const events: Array<string> = []
      const oneStarted = yield* Deferred.make<void>()
      const stop = yield* Ref.make(false)
      const results = yield* runInDependencyOrder(
        [[], [], [0, 1]],
        unitLike(events, (i) =>
          // Task 0 can only go on once task 1 has started: run one after the other, this would hang.
          i === 0 ? Deferred.await(oneStarted) : i === 1 ? Effect.asVoid(Deferred.succeed(oneStarted, undefined)) : Effect.void),
        (r) => r === "done",
        stop
      ).pipe(Effect.timeout("5 seconds"))
      expect(results).toEqual(["done", "done", "done"])
      expect(events.indexOf("read 2")).toBeLessThan(Math.max(events.indexOf("end 0"), events.indexOf("end 1")))
      expect(events.indexOf("write 2")).toBeGreaterThan(Math.max(events.indexOf("end 0"), events.indexOf("end 1")))
      expect(yield* Ref.get(stop)).toBe(false)
    }))

  it.live("runs at most `limit` tasks at once", () =>
    Effect.gen(function*() {
      let running = 0
      let most = 0
      const started: Array<number> = []
      const stop = yield* Ref.make(false)
      yield* runInDependencyOrder(
        [[], [], [], [], [], []],
        (i) =>
          Effect.gen(function*() {
            started.push(i)
            running += 1
            most = Math.max(most, running)
            yield* Effect.sleep("5 millis")
            running -= 1
          }),
        () => true,
        stop,
        2
      )
      expect(most).toBe(2)
      expect([...started].sort()).toEqual([0, 1, 2, 3, 4, 5])
    }))

  it.effect("a task waiting on a dependency behind the limit does not starve it", () =>
    Effect.gen(function*() {
      // With one slot, task 1 (which waits on 0) is admitted only after 0 has ended.
      const events: Array<string> = []
      const stop = yield* Ref.make(false)
      const results = yield* runInDependencyOrder([[], [0], [1]], unitLike(events), (r) => r === "done", stop, 1).pipe(Effect.timeout("5 seconds"))
      expect(results).toEqual(["done", "done", "done"])
      // Slots are taken in index order, so tasks waiting on others never hold every slot.
      const chain = yield* runInDependencyOrder([[], [], [0, 1], [2], [3], [2, 4]], unitLike(events), (r) => r === "done", stop, 2).pipe(Effect.timeout("5 seconds"))
      expect(chain).toEqual(["done", "done", "done", "done", "done", "done"])
    }))

  it.effect("a failure sets stop; its dependents stop before writing; the failure is the result once the others end", () =>
    Effect.gen(function*() {
      const stop = yield* Ref.make(false)
      const events: Array<string> = []
      const twoWrote = yield* Deferred.make<void>()
      const exit = yield* runInDependencyOrder(
        [[], [0], []],
        (i, ready) =>
          i === 0
            // Task 0 fails once task 2 has written: 2 still ends; 1, which depends on 0, writes nothing.
            ? Effect.andThen(Deferred.await(twoWrote), Effect.fail(`task ${i} failed`))
            : Effect.tap(unitLike(events)(i, ready), () => Deferred.succeed(twoWrote, undefined)),
        (r) => r === "done",
        stop
      ).pipe(Effect.exit)
      expect(exit).toEqual(Exit.fail("task 0 failed"))
      expect(events).toContain("stopped 1")
      expect(events).not.toContain("write 1")
      expect(events).toContain("write 2")
      expect(yield* Ref.get(stop)).toBe(true)
    }))

  it.effect("a task that did not complete (stopped) holds back its dependents' writes; nothing is admitted once stop is set", () =>
    Effect.gen(function*() {
      const stop = yield* Ref.make(false)
      const events: Array<string> = []
      const results = yield* runInDependencyOrder([[], [0], []], (i, ready) => (i === 0 ? Effect.succeed("stopped") : unitLike(events)(i, ready)), (r) => r === "done", stop)
      expect(results).toEqual(["stopped", "stopped", "done"])
      expect(events).not.toContain("write 1")
      yield* Ref.set(stop, true)
      const none = yield* runInDependencyOrder([[], []], () => Effect.succeed("done"), () => true, stop)
      expect(none).toEqual([undefined, undefined])
    }))
})
