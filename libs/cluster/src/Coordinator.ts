import { Deferred, Effect, Result, Schema } from "effect"
import { Activity } from "effect/workflow"
import { closeRun, closeStep, closeUnit, openRun, prepareStep, splitUnit } from "@polymath/engine"
import type { KeyRange, OpenedRun, Plan, RunReport, UnitReport } from "@polymath/engine"
import { Pipelines } from "./Pipelines.ts"
import type { PipelineServices } from "./Pipelines.ts"
import { DistributedRunError, RangeWorkflow, RunWorkflow } from "./Protocol.ts"
import type { PipelineRequest } from "./Protocol.ts"
import type { ClaimantResult } from "./Ranges.ts"

/** What a finished distributed run hands back: its report, and the request, so `follow` can render it. */
export interface RunOutcome {
  readonly request: PipelineRequest
  readonly report: RunReport
}

/** A step as the coordinator schedules it. */
interface StepShape {
  readonly name: string
  readonly after: ReadonlyArray<string>
  readonly units: ReadonlyArray<{ readonly unit: string; readonly source: string }>
}

const shapeOf = (plan: Plan): ReadonlyArray<StepShape> =>
  plan.steps.map((s) => ({ name: s.name, after: s.after, units: (s.kind === "embed" ? [s.unit] : s.units).map((u) => ({ unit: u.unit, source: u.source.keyset.name })) }))

const notRun = (step: StepShape): ReadonlyArray<UnitReport> =>
  step.units.map((u) => ({
    step: step.name, unit: u.unit, source: u.source, total: null, millis: 0, status: "not run" as const,
    read: 0, created: 0, updated: 0, unchanged: 0, rejected: 0, combined: 0, deleted: 0, retried: 0, retryReasons: {}
  }))

/**
 * The durable coordinator of a distributed run. Every call into the stores is an
 * activity whose result the workflow engine stores, so a coordinator replayed on another
 * worker (its own died) skips what was done; each unit's ranges are claimed one at a time by
 * child workflows (claimants) that the cluster places on the shards' owners. Steps keep their `after` order; a unit's
 * ranges run side by side, a graph step's units one after another (nodes before the
 * relationships that need them), as in a local run.
 */
export const runLayer = RunWorkflow.toLayer((payload, executionId) =>
  Effect.gen(function*() {
    const pipelines = yield* Pipelines
    const request = payload.request
    const stored = <A>(name: string, f: (plan: Plan) => Effect.Effect<A, unknown, PipelineServices>) =>
      Activity.make({
        name,
        success: Schema.String,
        error: DistributedRunError,
        execute: pipelines.use(request, (plan) => Effect.map(f(plan), (a) => JSON.stringify(a)))
      }).pipe(Effect.map((json) => JSON.parse(json) as A))

    const opened = yield* stored<OpenedRun>("open", (plan) => openRun(plan, { resume: payload.resume }))
    const steps = yield* stored<ReadonlyArray<StepShape>>("steps", (plan) => Effect.succeed(shapeOf(plan)))
    const reports = new Map<string, ReadonlyArray<UnitReport>>()
    const notes: Array<string> = opened.notResumed === null ? [] : [opened.notResumed]
    const providers: Record<string, string> = {}
    const state: { failure: DistributedRunError | null } = { failure: null }
    const done = new Map<string, Deferred.Deferred<boolean>>()
    for (const s of steps) done.set(s.name, yield* Deferred.make<boolean>())

    const stepBody = (step: StepShape) =>
      Effect.gen(function*() {
        yield* stored<null>(`prepare/${step.name}`, (plan) => Effect.as(prepareStep(plan, step.name), null))
        const units: Array<UnitReport> = []
        for (const { unit } of step.units) {
          const ranges = yield* stored<ReadonlyArray<KeyRange>>(`split/${unit}`, (plan) => splitUnit(plan, opened.runId, unit, payload.ranges))
          // As many claimants as ranges, spread over the shards: every worker most likely holds
          // some, and each claims a range whenever its worker has a free slot.
          const claimants = yield* Effect.all(
            ranges.map((_, claimant) => RangeWorkflow.execute({ parent: executionId, request, runId: opened.runId, unit, ranges: JSON.stringify(ranges), claimant })),
            { concurrency: "unbounded", mode: "result" }
          )
          const outcomes = claimants.flatMap((c) => (Result.isSuccess(c) ? JSON.parse(c.success) as ClaimantResult : []))
          // Every failure is told, as a local run would have told the first it met.
          const failures = [
            ...claimants.flatMap((c) => (Result.isFailure(c) ? [c.failure] : [])),
            ...outcomes.flatMap((o) => (o.ok ? [] : [o]))
          ]
          if (failures.length > 0) {
            return yield* new DistributedRunError({ message: [...new Set(failures.map((f) => f.message))].join("\nerror: "), invalid: failures.some((f) => f.invalid) })
          }
          // No silent loss: each range ran exactly once, or the unit fails saying which did not.
          const ran = outcomes.map((o) => o.index).sort((a, b) => a - b)
          if (ran.length !== ranges.length || ran.some((index, i) => index !== i)) {
            const missing = ranges.map((r) => r.index).filter((i) => !ran.includes(i))
            return yield* new DistributedRunError({ message: `unit ${unit}: ranges ${missing.join(", ") || "(none)"} did not run, ${ran.length} results for ${ranges.length} ranges`, invalid: false })
          }
          const parsed = outcomes.flatMap((o) => (o.ok ? [o] : [])).sort((a, b) => a.index - b.index)
          for (const p of parsed) Object.assign(providers, p.providers)
          units.push(yield* stored<UnitReport>(`close/${unit}`, (plan) => closeUnit(plan, opened.runId, unit, parsed.map((p) => p.report))))
        }
        return yield* stored<{ reports: ReadonlyArray<UnitReport>; notes: ReadonlyArray<string> }>(`finish/${step.name}`, (plan) => closeStep(plan, opened.runId, step.name, units))
      })

    const runStep = (step: StepShape) =>
      Effect.gen(function*() {
        for (const a of step.after) {
          if (!(yield* Deferred.await(done.get(a)!))) {
            reports.set(step.name, notRun(step))
            return yield* Deferred.succeed(done.get(step.name)!, false)
          }
        }
        const ok = yield* stepBody(step).pipe(
          Effect.map((r) => {
            reports.set(step.name, r.reports)
            notes.push(...r.notes)
            return true
          }),
          // Typed failures only: a suspension or interruption of the workflow passes through.
          Effect.catch((e: DistributedRunError) =>
            Effect.sync(() => {
              state.failure ??= e
              reports.set(step.name, notRun(step).map((u) => ({ ...u, status: "failed" as const })))
              return false
            }))
        )
        yield* Deferred.succeed(done.get(step.name)!, ok)
      })

    yield* Effect.forEach(steps, runStep, { concurrency: "unbounded", discard: true })
    const units = steps.flatMap((s) => reports.get(s.name) ?? [])
    const error = state.failure
    const report = yield* stored<RunReport>("close", (plan) => closeRun(plan, opened, { error: error?.message ?? null, units, notes, providers }))
    if (error !== null) return yield* error
    return JSON.stringify({ request, report } satisfies RunOutcome)
  }).pipe(Effect.annotateLogs({ execution: executionId }))
)
