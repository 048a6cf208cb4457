import { Cause, Clock, Deferred, Effect, Exit, Ref, Scope } from "effect"
import type { ConnectorFailure } from "../ConnectorError.ts"
import { Connectors } from "../Connectors.ts"
import { withHint } from "../EngineError.ts"
import type { DataError, PlanError, StepError } from "../EngineError.ts"
import type { Plan, PlannedStep } from "../Plan.ts"
import { Progress } from "../Progress.ts"
import { RunEvents } from "../RunEvents.ts"
import { defaultRetry, withRetry } from "../Retry.ts"
import type { RetryPolicy } from "../Retry.ts"
import type { RunIdentity, RunLedger, RunStatus, StoreFingerprints } from "../RunLedger.ts"
import { cursorWindows } from "./Cursors.ts"
import { dryRun } from "./DryRun.ts"
import { checkNullKeys, preflight } from "./Preflight.ts"
import type { RunReport, UnitReport } from "./Report.ts"
import { storeFingerprints, whyNotResume } from "./Resume.ts"
import { sqlOf } from "./Support.ts"
import { runEmbedStep, runGraphStep } from "./Steps.ts"
import type { RunContext } from "./Steps.ts"

export interface ExecuteOptions {
  readonly dryRun: boolean
  /** Continue the latest unfinished run with the same identity (when its stores are the same). */
  readonly resume: boolean
}

/** Any failure of a run. */
export type RunError = StepError | DataError | PlanError | ConnectorFailure

/** What identifies a run of this plan in the ledger. */
export const runIdentity = (plan: Plan): RunIdentity => ({
  pipeline: plan.pipeline,
  specHash: plan.specHash,
  params: Object.fromEntries(Object.entries(plan.params).map(([k, v]) => [k, String(v)])),
  model: plan.models.join(",") || null
})

/**
 * The stores' fingerprints now, and whether to continue the latest unfinished run with
 * this identity (only against the same stores), or why not.
 */
export const resumeDecision = (plan: Plan, ledger: RunLedger, identity: RunIdentity, wanted: boolean, policy: RetryPolicy) =>
  Effect.gen(function*() {
    const stores = yield* withRetry(storeFingerprints(plan), policy, () => Effect.void)
    const candidate = wanted ? yield* withRetry(ledger.resumable(identity), policy, () => Effect.void) : null
    if (candidate === null) return { stores, resume: null, notResumed: null }
    const why = yield* withRetry(whyNotResume(plan, candidate, stores), policy, () => Effect.void)
    return why === null
      ? { stores, resume: candidate.runId, notResumed: null }
      : { stores, resume: null, notResumed: `not resuming run ${candidate.runId}: ${why}; starting over` }
  })

/** How many rejected rows a report lists. */
export const reportedRejections = 20

/**
 * Starts the run in the ledger, retrying transient failures. Each attempt gets its
 * own child scope so a failed attempt releases what it acquired (the pipeline lock)
 * before the next one tries; the successful attempt's scope lives as long as the run.
 */
export const beginRun = (ledger: RunLedger, identity: RunIdentity, options: { readonly resume: string | null; readonly stores: StoreFingerprints }, policy: RetryPolicy) =>
  Effect.gen(function*() {
    const parent = yield* Effect.scope
    const attempt = Effect.gen(function*() {
      const child = yield* Scope.fork(parent)
      return yield* ledger.begin(identity, options).pipe(
        Scope.provide(child),
        Effect.onError((cause) => Scope.close(child, Exit.failCause(cause)))
      )
    })
    return yield* withRetry(attempt, policy, () => Effect.void)
  })

export const statusOf = (exit: Exit.Exit<unknown, unknown>): RunStatus =>
  Exit.isSuccess(exit) ? "succeeded" : Cause.hasInterruptsOnly(exit.cause) ? "interrupted" : "failed"

export const failureText = (exit: Exit.Exit<unknown, unknown>): string | null => {
  if (Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause)) return null
  const e = Cause.squash(exit.cause)
  return e instanceof Error ? e.message : String(e)
}

export const notRun = (step: PlannedStep): ReadonlyArray<UnitReport> =>
  (step.kind === "embed" ? [step.unit] : step.units).map((u) => ({
    step: step.name, unit: u.unit, source: u.source.keyset.name, total: null, millis: 0, status: "not run" as const,
    read: 0, created: 0, updated: 0, unchanged: 0, rejected: 0, combined: 0, deleted: 0, retried: 0, retryReasons: {}
  }))

/**
 * Executes a plan: preflight, then every step in dependency order (independent steps
 * concurrently), each unit streaming its source in keyset pages with retries and a
 * checkpoint per committed batch, then mirroring sweeps. When a step fails, the others
 * finish their current batch, checkpoint and stop. The ledger records the run; whatever
 * ends it (success, failure, interruption) is written there.
 */
export const execute = (plan: Plan, options: ExecuteOptions) =>
  executePlan(plan, options).pipe(
    Effect.withSpan("polymath.run", { attributes: { "polymath.pipeline": plan.pipeline, "polymath.dry_run": options.dryRun } }),
    Effect.annotateLogs({ pipeline: plan.pipeline })
  )

const executePlan = (plan: Plan, options: ExecuteOptions) =>
  Effect.gen(function*() {
    const started = yield* Clock.currentTimeMillis
    const elapsed = Effect.map(Clock.currentTimeMillis, (now) => now - started)
    yield* preflight(plan)
    const identity = runIdentity(plan)
    if (options.dryRun) {
      const { units, forecasts } = yield* dryRun(plan, identity)
      return { runId: null, resumed: false, notResumed: null, dryRun: true, units, forecasts, rejected: { count: 0, rows: [] }, notes: [], providers: {}, millis: yield* elapsed } satisfies RunReport
    }
    const connectors = yield* Connectors
    const progress = yield* Progress
    const ledger = sqlOf(connectors, plan.ledgerConnection).ledger
    const policy = plan.steps[0]?.retry ?? defaultRetry
    return yield* Effect.scoped(Effect.gen(function*() {
      const { stores, resume, notResumed } = yield* resumeDecision(plan, ledger, identity, options.resume, policy)
      if (notResumed !== null) yield* progress.note(notResumed)
      const run = yield* beginRun(ledger, identity, { resume, stores }, policy)
      yield* Effect.annotateCurrentSpan({ "polymath.run_id": run.runId, "polymath.resumed": run.resumed })
      yield* Effect.flatMap(RunEvents, (events) => events.started(run.runId, run.resumed))
      yield* progress.note(run.resumed ? `resuming run ${run.runId}` : `run ${run.runId}`)
      const body = Effect.gen(function*() {
        const windows = yield* withRetry(cursorWindows(plan, run, ledger, identity), policy, () => Effect.void)
        yield* checkNullKeys(plan, windows)
        const rejectedBySteps = new Map<string, Ref.Ref<number>>()
        for (const step of plan.steps) {
          const before = (step.kind === "embed" ? [step.unit] : step.units).reduce((n, u) => n + (run.checkpoints.get(u.unit)?.counts.rejected ?? 0), 0)
          rejectedBySteps.set(step.name, yield* Ref.make(before))
        }
        const ctx: RunContext = { plan, run, ledger, windows, control: { stop: yield* Ref.make(false), rejectedBySteps }, providers: {}, notes: [] }
        const done = new Map<string, Deferred.Deferred<boolean>>()
        for (const s of plan.steps) done.set(s.name, yield* Deferred.make<boolean>())
        const runStep = (step: PlannedStep) =>
          Effect.gen(function*() {
            for (const a of step.after) {
              if (!(yield* Deferred.await(done.get(a)!))) {
                yield* Deferred.succeed(done.get(step.name)!, false)
                return Exit.succeed(notRun(step))
              }
            }
            const exit = yield* (step.kind === "embed" ? runEmbedStep(ctx, step) : runGraphStep(ctx, step)).pipe(
              Effect.withSpan("polymath.step", { attributes: { "polymath.pipeline": plan.pipeline, "polymath.step": step.name, "polymath.kind": step.kind } }),
              Effect.annotateLogs({ step: step.name }),
              Effect.exit
            )
            if (Exit.isFailure(exit)) yield* Ref.set(ctx.control.stop, true)
            const complete = Exit.isSuccess(exit) && exit.value.every((r) => r.status === "done" || r.status === "done before")
            yield* Deferred.succeed(done.get(step.name)!, complete)
            return exit
          })
        const exits = yield* Effect.forEach(plan.steps, runStep, { concurrency: "unbounded" })
        for (const exit of exits) if (Exit.isFailure(exit)) return yield* Effect.failCause(exit.cause)
        const units = exits.flatMap((e) => (Exit.isSuccess(e) ? e.value : []))
        const rejected = yield* withRetry(ledger.rejected(run.runId, reportedRejections), policy, () => Effect.void)
        return { runId: run.runId, resumed: run.resumed, notResumed, dryRun: false, units, forecasts: [], rejected, notes: ctx.notes, providers: ctx.providers, millis: yield* elapsed } satisfies RunReport
      })
      return yield* body.pipe(
        Effect.annotateLogs({ run_id: run.runId }),
        Effect.onExit((exit) => withRetry(ledger.finish(run.runId, statusOf(exit), failureText(exit)), defaultRetry, () => Effect.void).pipe(Effect.ignore)),
        Effect.mapError((e) => (run.resumed ? withHint(e, `this run continued run ${run.runId} from its checkpoints; --no-resume starts over`) : e))
      )
    }))
  })
