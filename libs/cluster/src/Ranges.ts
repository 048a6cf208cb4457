import { Context, Effect, Schema, Semaphore } from "effect"
import { Activity } from "effect/workflow"
import { runRange } from "@polymath/engine"
import type { KeyRange } from "@polymath/engine"
import { Pipelines } from "./Pipelines.ts"
import { DistributedRunError, RangeWorkflow } from "./Protocol.ts"

/** How many ranges one worker runs at once (its share of the machine). */
export class WorkerSlots extends Context.Service<WorkerSlots, Semaphore.Semaphore>()("@polymath/cluster/WorkerSlots") {}

/**
 * A range is one activity: its result is stored once it ends, so a workflow replayed on
 * another worker does not run it again; a range whose worker died mid-way runs again
 * from the range's own checkpoint, and its writes are idempotent.
 */
export const rangesLayer = RangeWorkflow.toLayer((payload) =>
  Effect.gen(function*() {
    const pipelines = yield* Pipelines
    const slots = yield* WorkerSlots
    const range = JSON.parse(payload.range) as KeyRange
    return yield* Activity.make({
      name: "range",
      success: Schema.String,
      error: DistributedRunError,
      execute: slots.withPermits(1)(
        pipelines.use(payload.request, (plan) =>
          runRange(plan, payload.runId, payload.unit, range).pipe(
            Effect.tap(({ report }) => Effect.logInfo(`range ${range.index} of ${payload.unit}: ${report.read} rows read`)),
            Effect.map((result) => JSON.stringify(result))
          ))
      ).pipe(Effect.annotateLogs({ run_id: payload.runId, unit: payload.unit, range: String(range.index) }))
    })
  })
)
