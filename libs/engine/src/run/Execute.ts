import { Cause, Clock, Deferred, Effect, Exit, Ref, Scope } from "effect"
import type { ConnectorFailure } from "../ConnectorError.ts"
import { Connectors, Embedders } from "../Connectors.ts"
import { withHint } from "../EngineError.ts"
import type { DataError, PlanError, StepError } from "../EngineError.ts"
import type { EmbedStep, GraphStep, Plan, PlannedStep, PlannedUnit } from "../Plan.ts"
import { Progress } from "../Progress.ts"
import { defaultRetry, withRetry } from "../Retry.ts"
import type { RetryPolicy } from "../Retry.ts"
import type { RunHandle, RunIdentity, RunLedger, RunStatus, StoreFingerprints } from "../RunLedger.ts"
import type { KeysetSource, SourceCursor } from "../SqlConnector.ts"
import { cursorWindows, effectiveSource } from "./Cursors.ts"
import { dryRun } from "./DryRun.ts"
import { embedWork } from "./EmbedWork.ts"
import { graphWork, identityRoles, missingIdentity } from "./GraphWork.ts"
import { sweep } from "./Mirror.ts"
import { checkNullKeys, preflight } from "./Preflight.ts"
import type { RunReport, UnitReport } from "./Report.ts"
import { storeFingerprints, whyNotResume } from "./Resume.ts"
import { graphOf, sqlOf, toStepError } from "./Support.ts"
import { runUnit } from "./UnitRunner.ts"
import type { PageWork, RunControl } from "./UnitRunner.ts"

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

/** How many rejected rows a report lists. */
export const reportedRejections = 20

interface RunContext {
  readonly plan: Plan
  readonly run: RunHandle
  readonly ledger: RunLedger
  readonly windows: ReadonlyMap<string, SourceCursor>
  readonly control: RunControl
  readonly providers: Record<string, string>
  readonly notes: Array<string>
}

/** Why a row the pages leave out (a NULL key or cursor) is rejected. */
const nullKeyReason = (unit: PlannedUnit, source: KeysetSource) => {
  const roles = unit.kind === "embed" ? null : identityRoles(unit)
  return (row: Readonly<Record<string, unknown>>): string => {
    if (roles !== null && unit.kind !== "embed") {
      const why = missingIdentity(unit, roles, row)
      if (why !== null) return why
    }
    const column = [...source.key, ...(source.cursor ? [source.cursor.column] : [])].find((c) => row[c] === null || row[c] === undefined)
    return column === source.cursor?.column ? `cursor column ${column} is NULL` : `source key column ${column ?? "?"} is NULL`
  }
}

/** Runs one unit of a step over its source as this run reads it. */
const runPlannedUnit = <P>(ctx: RunContext, step: PlannedStep, u: PlannedUnit, work: PageWork<P>) =>
  Effect.gen(function*() {
    const connectors = yield* Connectors
    const source = effectiveSource(u.source, ctx.windows)
    return yield* runUnit({ step, unit: u, source, sql: sqlOf(connectors, u.source.connection), run: ctx.run, ledger: ctx.ledger, control: ctx.control, work, nullKeyReason: nullKeyReason(u, source) })
  })

const runEmbedStep = (ctx: RunContext, step: EmbedStep) =>
  Effect.scoped(Effect.gen(function*() {
    const connectors = yield* Connectors
    const embedders = yield* Embedders
    const progress = yield* Progress
    const u = step.unit
    const embedder = yield* embedders.load(u.model).pipe(Effect.mapError(toStepError({ step: step.name, unit: u.unit, source: u.source.keyset.name, keyRange: null })))
    ctx.providers[u.model] = embedder.provider
    yield* progress.note(`${step.name}: model ${embedder.model.name} (${embedder.model.dimensions}-d) on ${embedder.provider}`)
    return [yield* runPlannedUnit(ctx, step, u, embedWork(u, step.rows, step.retry, sqlOf(connectors, u.targetConnection), embedder, ctx.run.runId))]
  }))

const runGraphStep = (ctx: RunContext, step: GraphStep) =>
  Effect.gen(function*() {
    const connectors = yield* Connectors
    const graph = graphOf(connectors, step.connection)
    const stamp = { scope: step.scope, runId: ctx.run.runId }
    yield* withRetry(graph.ensureConstraints(step.constraints), step.retry, () => Effect.void).pipe(
      Effect.mapError(toStepError({ step: step.name, unit: `${step.name}/constraints`, source: "-", keyRange: null }))
    )
    const reports: Array<UnitReport> = []
    for (const u of step.units) {
      reports.push(yield* runPlannedUnit(ctx, step, u, graphWork(u, step.rows, step.retry, graph, ctx.ledger, stamp)))
      if (reports[reports.length - 1]!.status === "stopped") break
    }
    const mirrored = step.units.filter((u) => u.mirror)
    if (mirrored.length === 0 || reports.some((r) => r.status === "stopped") || reports.length < step.units.length) return reports
    if (ctx.plan.partial) {
      ctx.notes.push(`${step.name}: nothing removed for on_missing: delete, because --only runs part of the pipeline`)
      return reports
    }
    // Relationships first: a node is deleted only once nothing connects to it.
    for (const u of [...mirrored].reverse()) {
      const i = step.units.indexOf(u)
      const before = reports[i]!
      const retried = { n: 0 }
      const result = yield* withRetry(sweep(u, step.scope, graph, ctx.ledger, ctx.run.runId, step.retry, Effect.sync(() => void retried.n++)), step.retry, () => Effect.sync(() => void retried.n++)).pipe(
        Effect.mapError(toStepError({ step: step.name, unit: u.unit, source: u.source.keyset.name, keyRange: null }))
      )
      const counts = { read: before.read, created: before.created, updated: before.updated, unchanged: before.unchanged, rejected: before.rejected, combined: before.combined, deleted: before.deleted + result.deleted, retried: before.retried + retried.n }
      yield* withRetry(ctx.ledger.checkpoint(ctx.run.runId, { unit: u.unit, lastKey: null, done: true, counts }), step.retry, () => Effect.void).pipe(
        Effect.mapError(toStepError({ step: step.name, unit: u.unit, source: u.source.keyset.name, keyRange: null }))
      )
      reports[i] = { ...before, ...counts }
      if (result.unscoped > 0) {
        const what = result.unscoped === 1 ? "entity its source no longer yields lost" : "entities its source no longer yields lost"
        ctx.notes.push(`${u.unit}: ${result.unscoped} ${what} scope ${String(step.scope.value)} but ${result.unscoped === 1 ? "is" : "are"} kept (another scope holds ${result.unscoped === 1 ? "it" : "them"}, or a node still has relationships)`)
      }
    }
    return reports
  })

/**
 * Starts the run in the ledger, retrying transient failures. Each attempt gets its
 * own child scope so a failed attempt releases what it acquired (the pipeline lock)
 * before the next one tries; the successful attempt's scope lives as long as the run.
 */
const beginRun = (ledger: RunLedger, identity: RunIdentity, options: { readonly resume: string | null; readonly stores: StoreFingerprints }, policy: RetryPolicy) =>
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

const statusOf = (exit: Exit.Exit<unknown, unknown>): RunStatus =>
  Exit.isSuccess(exit) ? "succeeded" : Cause.hasInterruptsOnly(exit.cause) ? "interrupted" : "failed"

const failureText = (exit: Exit.Exit<unknown, unknown>): string | null => {
  if (Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause)) return null
  const e = Cause.squash(exit.cause)
  return e instanceof Error ? e.message : String(e)
}

const notRun = (step: PlannedStep): ReadonlyArray<UnitReport> =>
  (step.kind === "embed" ? [step.unit] : step.units).map((u) => ({
    step: step.name, unit: u.unit, source: u.source.keyset.name, total: null, millis: 0, status: "not run" as const,
    read: 0, created: 0, updated: 0, unchanged: 0, rejected: 0, combined: 0, deleted: 0, retried: 0
  }))

/**
 * Executes a plan: preflight, then every step in dependency order (independent steps
 * concurrently), each unit streaming its source in keyset pages with retries and a
 * checkpoint per committed batch, then mirroring sweeps. When a step fails, the others
 * finish their current batch, checkpoint and stop. The ledger records the run; whatever
 * ends it (success, failure, interruption) is written there.
 */
export const execute = (plan: Plan, options: ExecuteOptions) =>
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
      const stores = yield* withRetry(storeFingerprints(plan), policy, () => Effect.void)
      let resume: string | null = null
      let notResumed: string | null = null
      if (options.resume) {
        const candidate = yield* withRetry(ledger.resumable(identity), policy, () => Effect.void)
        if (candidate !== null) {
          const why = yield* withRetry(whyNotResume(plan, candidate, stores), policy, () => Effect.void)
          if (why === null) resume = candidate.runId
          else {
            notResumed = `not resuming run ${candidate.runId}: ${why}; starting over`
            yield* progress.note(notResumed)
          }
        }
      }
      const run = yield* beginRun(ledger, identity, { resume, stores }, policy)
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
            const exit = yield* (step.kind === "embed" ? runEmbedStep(ctx, step) : runGraphStep(ctx, step)).pipe(Effect.exit)
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
        Effect.onExit((exit) => withRetry(ledger.finish(run.runId, statusOf(exit), failureText(exit)), defaultRetry, () => Effect.void).pipe(Effect.ignore)),
        Effect.mapError((e) => (run.resumed ? withHint(e, `this run continued run ${run.runId} from its checkpoints; --no-resume starts over`) : e))
      )
    }))
  })
