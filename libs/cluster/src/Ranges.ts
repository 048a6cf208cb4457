import { Context, Effect, Result, Schema, Semaphore } from "effect"
import { Activity } from "effect/workflow"
import { claimRange, runRange } from "@polymath/engine"
import type { KeyRange, UnitReport } from "@polymath/engine"
import { Pipelines } from "./Pipelines.ts"
import { DistributedRunError, RangeWorkflow } from "./Protocol.ts"

/** How many ranges one worker runs at once (its share of the machine). */
export class WorkerSlots extends Context.Service<WorkerSlots, Semaphore.Semaphore>()("@polymath/cluster/WorkerSlots") {}

/** How one claimed range ended. */
export type RangeOutcome =
  | { readonly index: number; readonly ok: true; readonly report: UnitReport; readonly providers: Record<string, string> }
  | { readonly index: number; readonly ok: false; readonly message: string; readonly invalid: boolean }

/** What a claimant hands back: every range it claimed, in the order it ran them. */
export type ClaimantResult = ReadonlyArray<RangeOutcome>

/**
 * A claimant: each turn is one activity that takes a slot of this worker, claims the unit's next
 * range and runs it. An activity's result is stored once it ends, so a claimant replayed on
 * another worker (its own died) does not run a finished turn again; a turn cut short claims again
 * under the same name, gets the same range and runs it from the range's own checkpoint, and its
 * writes are idempotent. A range that fails does not stop the claimant: every range runs, and
 * every failure is told, as when each range was its own workflow.
 */
export const rangesLayer = RangeWorkflow.toLayer((payload) =>
  Effect.gen(function*() {
    const pipelines = yield* Pipelines
    const slots = yield* WorkerSlots
    const ranges = JSON.parse(payload.ranges) as ReadonlyArray<KeyRange>
    const scope = `${payload.parent}/${payload.unit}`
    const outcomes: Array<RangeOutcome> = []
    for (let turn = 0; ; turn++) {
      const claim = `${payload.claimant}/${turn}`
      const result = yield* Activity.make({
        name: `turn/${turn}`,
        success: Schema.String,
        error: DistributedRunError,
        execute: slots.withPermits(1)(
          Effect.gen(function*() {
            const index = yield* pipelines.use(payload.request, (plan) => claimRange(plan, payload.runId, scope, ranges.length, claim))
            if (index === null) return "null"
            const range = ranges[index]!
            const ran = yield* Effect.result(pipelines.use(payload.request, (plan) =>
              runRange(plan, payload.runId, payload.unit, range).pipe(
                Effect.tap(({ report }) => Effect.logInfo(`range ${range.index} of ${payload.unit}: ${report.read} rows read`)),
                Effect.annotateLogs({ range: String(range.index) })
              )))
            return JSON.stringify(
              Result.isSuccess(ran)
                ? { index, ok: true, ...ran.success } satisfies RangeOutcome
                : { index, ok: false, message: ran.failure.message, invalid: ran.failure.invalid } satisfies RangeOutcome
            )
          })
        ).pipe(Effect.annotateLogs({ run_id: payload.runId, unit: payload.unit, claimant: String(payload.claimant) }))
      })
      if (result === "null") break
      outcomes.push(JSON.parse(result) as RangeOutcome)
    }
    return JSON.stringify(outcomes satisfies ClaimantResult)
  })
)
