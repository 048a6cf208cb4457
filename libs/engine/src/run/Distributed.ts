import { createHash } from "node:crypto"
import { Clock, Effect, Ref } from "effect"
import { Connectors } from "../Connectors.ts"
import { StepError } from "../EngineError.ts"
import type { Plan, PlannedStep, PlannedUnit } from "../Plan.ts"
import { unitsOf } from "../Plan.ts"
import { Progress } from "../Progress.ts"
import { defaultRetry, withRetry } from "../Retry.ts"
import type { KeyTuple } from "../Rows.ts"
import { zeroCounts } from "../RunLedger.ts"
import type { UnitCounts } from "../RunLedger.ts"
import { cursorWindows, effectiveSource } from "./Cursors.ts"
import { beginRun, reportedRejections, resumeDecision, runIdentity } from "./Execute.ts"
import { checkNullKeys, preflight } from "./Preflight.ts"
import type { RunReport, UnitReport } from "./Report.ts"
import { buildVectorIndex, embedStepWork, ensureGraphSchema, graphUnitWork, loadStepEmbedder, mirrorDeletions, runPlannedUnit } from "./Steps.ts"
import type { RunContext } from "./Steps.ts"
import { sqlOf } from "./Support.ts"

/**
 * The pieces of a run that a distributed engine calls one at a time, each in whichever
 * process holds the work: open the run, split a unit's source into key ranges, run one
 * range, close a unit, close a step, close the run. Each piece reads what it needs from
 * the ledger (checkpoints, cursor windows), so none depends on the process that ran the
 * one before; each is idempotent, so a piece re-run after its process died writes nothing
 * twice. Writes, rejected rows and checkpoints are a local run's own code.
 */

/** A run opened for distributed execution. */
export interface OpenedRun {
  readonly runId: string
  readonly resumed: boolean
  readonly notResumed: string | null
  readonly startedAt: number
}

/** One key range of a unit: keys after `after` up to and including `through` (null: open). */
export interface KeyRange {
  readonly index: number
  readonly after: KeyTuple | null
  readonly through: KeyTuple | null
  /** The range's checkpoint name: a re-split with other bounds never resumes from it. */
  readonly checkpoint: string
}

const stepOf = (plan: Plan, name: string): PlannedStep => {
  const step = plan.steps.find((s) => s.name === name)
  if (step === undefined) throw new Error(`the plan has no step ${name}`)
  return step
}

const unitOf = (plan: Plan, name: string): { readonly step: PlannedStep; readonly unit: PlannedUnit } => {
  const unit = unitsOf(plan).find((u) => u.unit === name)
  if (unit === undefined) throw new Error(`the plan has no unit ${name}`)
  return { step: stepOf(plan, unit.step), unit }
}

/** A run's context rebuilt from the ledger, for a piece that runs in a process of its own. */
const contextOf = (plan: Plan, runId: string) =>
  Effect.gen(function*() {
    const ledger = sqlOf(yield* Connectors, plan.ledgerConnection).ledger
    const policy = plan.steps[0]?.retry ?? defaultRetry
    const checkpoints = yield* withRetry(ledger.checkpoints(runId), policy, () => Effect.void)
    // A resumed handle makes `cursorWindows` read the windows the run recorded when it opened.
    const run = { runId, resumed: true, checkpoints }
    const windows = yield* withRetry(cursorWindows(plan, run, ledger, runIdentity(plan)), policy, () => Effect.void)
    const rejectedBySteps = new Map<string, Ref.Ref<number>>()
    for (const step of plan.steps) {
      const units = new Set((step.kind === "embed" ? [step.unit] : step.units).map((u) => u.unit))
      const before = [...checkpoints.values()].filter((c) => units.has(c.unit.split("#")[0]!)).reduce((n, c) => n + c.counts.rejected, 0)
      rejectedBySteps.set(step.name, yield* Ref.make(before))
    }
    const ctx: RunContext = { plan, run, ledger, windows, control: { stop: yield* Ref.make(false), rejectedBySteps }, providers: {}, notes: [] }
    return ctx
  })

/**
 * Opens a run as a local run does (preflight, resume decision, ledger entry, cursor
 * windows, NULL-key check under `on_error: fail`). The pipeline lock is held only while
 * opening: a distributed run outlives any one process, so no session could hold it.
 */
export const openRun = (plan: Plan, options: { readonly resume: boolean }) =>
  Effect.gen(function*() {
    const startedAt = yield* Clock.currentTimeMillis
    yield* preflight(plan)
    const identity = runIdentity(plan)
    const ledger = sqlOf(yield* Connectors, plan.ledgerConnection).ledger
    const policy = plan.steps[0]?.retry ?? defaultRetry
    return yield* Effect.scoped(Effect.gen(function*() {
      const { stores, resume, notResumed } = yield* resumeDecision(plan, ledger, identity, options.resume, policy)
      const run = yield* beginRun(ledger, identity, { resume, stores }, policy)
      const windows = yield* withRetry(cursorWindows(plan, run, ledger, identity), policy, () => Effect.void)
      yield* checkNullKeys(plan, windows)
      return { runId: run.runId, resumed: run.resumed, notResumed, startedAt } satisfies OpenedRun
    }))
  })

const rangeName = (unit: string, index: number, after: KeyTuple | null, through: KeyTuple | null): string =>
  `${unit}#${index}:${createHash("sha256").update(JSON.stringify([after, through])).digest("hex").slice(0, 12)}`

/** Cuts a unit's source, as this run reads it, into at most `parts` ranges of nearly equal size. */
export const splitUnit = (plan: Plan, runId: string, unitName: string, parts: number) =>
  Effect.gen(function*() {
    const ctx = yield* contextOf(plan, runId)
    const { step, unit } = unitOf(plan, unitName)
    const sql = sqlOf(yield* Connectors, unit.source.connection)
    const cuts = yield* withRetry(sql.splitPoints(effectiveSource(unit.source, ctx.windows), parts), step.retry, () => Effect.void).pipe(
      Effect.mapError((e) => new StepError({ context: { step: step.name, unit: unit.unit, source: unit.source.keyset.name, keyRange: null }, reason: e.reason, detail: e.message }))
    )
    const bounds = [null, ...cuts, null]
    return Array.from({ length: cuts.length + 1 }, (_, i): KeyRange => {
      const after = bounds[i] ?? null
      const through = bounds[i + 1] ?? null
      return { index: i, after, through, checkpoint: rangeName(unit.unit, i, after, through) }
    })
  })

/** What must exist before a step's ranges run: a graph step's constraints and indexes. */
export const prepareStep = (plan: Plan, stepName: string) =>
  Effect.gen(function*() {
    const step = stepOf(plan, stepName)
    if (step.kind === "graph") yield* ensureGraphSchema(step)
  })

/** Runs one range of a unit with a local run's writes, rejections and checkpoints. */
export const runRange = (plan: Plan, runId: string, unitName: string, range: KeyRange) =>
  Effect.scoped(Effect.gen(function*() {
    const ctx = yield* contextOf(plan, runId)
    const { step } = unitOf(plan, unitName)
    const part = { part: { index: range.index, after: range.after, checkpoint: range.checkpoint }, through: range.through }
    if (step.kind === "embed") {
      const embedder = yield* loadStepEmbedder(ctx, step)
      const report = yield* runPlannedUnit(ctx, step, step.unit, yield* embedStepWork(ctx, step, embedder), part)
      return { report, providers: ctx.providers }
    }
    const unit = step.units.find((u) => u.unit === unitName)!
    const report = yield* runPlannedUnit(ctx, step, unit, yield* graphUnitWork(ctx, step, unit), part)
    return { report, providers: ctx.providers }
  }))

const sum = (reports: ReadonlyArray<UnitCounts>): UnitCounts => {
  const out: Record<keyof UnitCounts, number> = { ...zeroCounts }
  for (const r of reports) for (const k of Object.keys(zeroCounts) as Array<keyof UnitCounts>) out[k] += r[k]
  return out
}

/** A unit whose ranges all ended: one report, and its checkpoint marked done. */
export const closeUnit = (plan: Plan, runId: string, unitName: string, ranges: ReadonlyArray<UnitReport>) =>
  Effect.gen(function*() {
    const { step, unit } = unitOf(plan, unitName)
    const ledger = sqlOf(yield* Connectors, plan.ledgerConnection).ledger
    const counts = sum(ranges)
    yield* withRetry(ledger.checkpoint(runId, { unit: unit.unit, lastKey: null, done: true, counts }), step.retry, () => Effect.void).pipe(
      Effect.mapError((e) => new StepError({ context: { step: step.name, unit: unit.unit, source: unit.source.keyset.name, keyRange: null }, reason: e.reason, detail: e.message }))
    )
    const retryReasons: Record<string, number> = {}
    for (const r of ranges) for (const [k, n] of Object.entries(r.retryReasons)) retryReasons[k] = (retryReasons[k] ?? 0) + n
    const total = ranges.every((r) => r.total !== null) ? ranges.reduce((n, r) => n + r.total!, 0) : null
    return {
      step: step.name, unit: unit.unit, source: unit.source.keyset.name, total, millis: Math.max(0, ...ranges.map((r) => r.millis)),
      status: ranges.every((r) => r.status === "done before") ? "done before" : "done", ...counts, retryReasons
    } satisfies UnitReport
  })

/** A step whose units all closed: its vector index, or its mirroring deletions. */
export const closeStep = (plan: Plan, runId: string, stepName: string, reports: ReadonlyArray<UnitReport>) =>
  Effect.gen(function*() {
    const ctx = yield* contextOf(plan, runId)
    const step = stepOf(plan, stepName)
    if (step.kind === "embed") {
      yield* buildVectorIndex(ctx, step, reports[0]!)
      return { reports, notes: ctx.notes }
    }
    return { reports: yield* mirrorDeletions(ctx, step, reports), notes: ctx.notes }
  })

/** Ends the run in the ledger and reports it as a local run does. */
export const closeRun = (plan: Plan, run: OpenedRun, outcome: { readonly error: string | null; readonly units: ReadonlyArray<UnitReport>; readonly notes: ReadonlyArray<string>; readonly providers: Readonly<Record<string, string>> }) =>
  Effect.gen(function*() {
    const ledger = sqlOf(yield* Connectors, plan.ledgerConnection).ledger
    yield* withRetry(ledger.finish(run.runId, outcome.error === null ? "succeeded" : "failed", outcome.error), defaultRetry, () => Effect.void)
    const rejected = yield* withRetry(ledger.rejected(run.runId, reportedRejections), defaultRetry, () => Effect.void)
    const now = yield* Clock.currentTimeMillis
    yield* Effect.flatMap(Progress, (p) => p.note(`run ${run.runId} ${outcome.error === null ? "finished" : "failed"}`))
    return {
      runId: run.runId, resumed: run.resumed, notResumed: run.notResumed, dryRun: false, units: outcome.units, forecasts: [],
      rejected, notes: outcome.notes, providers: outcome.providers, millis: now - run.startedAt
    } satisfies RunReport
  })

/**
 * Claims the next range of a unit for whoever asks (see `RunLedger.claimRange`): `scope` names
 * one execution's ranges of the unit, `claim` the claimant's request, so a replayed request gets
 * the range it got before.
 */
export const claimRange = (plan: Plan, runId: string, scope: string, count: number, claim: string) =>
  Effect.gen(function*() {
    const ledger = sqlOf(yield* Connectors, plan.ledgerConnection).ledger
    const policy = plan.steps[0]?.retry ?? defaultRetry
    return yield* withRetry(ledger.claimRange(runId, scope, count, claim), policy, () => Effect.void)
  })
