import { Cause, Deferred, Effect, Exit, Ref, Semaphore } from "effect"
import type { GraphUnit } from "../Plan.ts"

/**
 * Which units of a graph step may run at the same time. Units that touch disjoint labels
 * run concurrently (Paper, Passage and Concept nodes; a relationship once its endpoint
 * labels are written), which is where a step spends its time waiting: one unit reads,
 * another writes, and Neo4j runs two transactions on two cores. Units that touch a common
 * label stay in the step's order: two MERGEs on one label contend for the same locks, and
 * two relationship units with a common endpoint label would lock the same nodes in their
 * own orders and could deadlock each other.
 */

/** A label set that may hold any label: `labels_from` without a map makes labels from values. */
const anyLabel = Symbol("any label")
type Labels = ReadonlySet<string | typeof anyLabel>

const nodeLabels = (u: GraphUnit & { readonly kind: "nodes" }): Labels => {
  const from = u.write.labelFrom
  if (from === null) return new Set([u.write.label])
  return from.map === null ? new Set([u.write.label, anyLabel]) : new Set([u.write.label, ...Object.values(from.map)])
}

const overlaps = (a: Labels, b: Labels): boolean => {
  if ((a.has(anyLabel) && b.size > 0) || (b.has(anyLabel) && a.size > 0)) return true
  for (const l of a) if (b.has(l)) return true
  return false
}

/**
 * For each unit, the earlier units it waits for: a node unit waits for node units with a
 * label in common; a relationship unit waits for the node units that write its endpoint
 * labels and for relationship units of its type or with an endpoint label in common.
 * (A plan lists nodes before relationships, so every dependency is an earlier unit.)
 */
export const unitDependencies = (units: ReadonlyArray<GraphUnit>): ReadonlyArray<ReadonlyArray<number>> =>
  units.map((u, j) => {
    const waits: Array<number> = []
    for (let i = 0; i < j; i++) {
      const earlier = units[i]!
      if (u.kind === "nodes") {
        if (earlier.kind === "nodes" && overlaps(nodeLabels(u), nodeLabels(earlier))) waits.push(i)
        continue
      }
      const ends: Labels = new Set([u.write.start.label, u.write.end.label])
      if (earlier.kind === "nodes") {
        if (overlaps(ends, nodeLabels(earlier))) waits.push(i)
      } else if (earlier.write.type === u.write.type || overlaps(ends, new Set([earlier.write.start.label, earlier.write.end.label]))) {
        waits.push(i)
      }
    }
    return waits
  })

/** How many units of one graph step run at once: each holds a Postgres connection for its cursor (a pool has 8). */
export const maxConcurrentUnits = 3

/**
 * Runs one task per entry of `dependencies`, at most `limit` at a time, admitted in index
 * order. A task starts (reads its source, prepares pages) before its dependencies end, and
 * must await `ready` before it writes anything: `ready` is true once every dependency has
 * completed (`complete` says whether a result counts as such) and `stop` is not set; false
 * means the task must stop without writing. Admission in index order means every
 * dependency (an earlier task) already holds a slot or has ended, so waiting tasks cannot
 * take every slot from the tasks they wait on. No task is admitted once `stop` is set, and
 * a failure sets it, so tasks already running finish their batch and stop. Returns each
 * task's result (undefined: not started); fails with the first failure in task order once
 * every started task has ended.
 */
export const runInDependencyOrder = <A, E, R>(
  dependencies: ReadonlyArray<ReadonlyArray<number>>,
  task: (index: number, ready: Effect.Effect<boolean>) => Effect.Effect<A, E, R>,
  complete: (result: A) => boolean,
  stop: Ref.Ref<boolean>,
  limit: number = maxConcurrentUnits
): Effect.Effect<ReadonlyArray<A | undefined>, E, R> =>
  Effect.gen(function*() {
    const slots = yield* Semaphore.make(Math.max(1, limit))
    const finished: Array<Deferred.Deferred<boolean>> = []
    const admitted: Array<Deferred.Deferred<void>> = []
    for (let i = 0; i < dependencies.length; i++) {
      finished.push(yield* Deferred.make<boolean>())
      admitted.push(yield* Deferred.make<void>())
    }
    const ready = (i: number): Effect.Effect<boolean> =>
      Effect.gen(function*() {
        for (const d of dependencies[i]!) {
          if (!(yield* Deferred.await(finished[d]!))) return false
        }
        return !(yield* Ref.get(stop))
      })
    const one = (i: number) =>
      Effect.gen(function*() {
        if (i > 0) yield* Deferred.await(admitted[i - 1]!)
        if (yield* Ref.get(stop)) {
          yield* Deferred.succeed(admitted[i]!, undefined)
          return undefined
        }
        return yield* slots.withPermit(Effect.andThen(Deferred.succeed(admitted[i]!, undefined), Effect.exit(task(i, ready(i)))))
      }).pipe(
        Effect.tap((exit) => (exit !== undefined && Exit.isFailure(exit) ? Ref.set(stop, true) : Effect.void)),
        Effect.tap((exit) => Deferred.succeed(finished[i]!, exit !== undefined && Exit.isSuccess(exit) && complete(exit.value))),
        // An interrupted task still releases the tasks behind it and those waiting on it (as not completed).
        Effect.onInterrupt(() => Effect.asVoid(Effect.andThen(Deferred.succeed(admitted[i]!, undefined), Deferred.succeed(finished[i]!, false))))
      )
    const exits = yield* Effect.forEach(dependencies, (_, i) => one(i), { concurrency: "unbounded" })
    const failed = exits.find((e) => e !== undefined && Exit.isFailure(e))
    if (failed !== undefined && Exit.isFailure(failed)) return yield* Effect.failCause(failed.cause as Cause.Cause<E>)
    return exits.map((e) => (e !== undefined && Exit.isSuccess(e) ? e.value : undefined))
  })
