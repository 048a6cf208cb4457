import { Cause, Clock, Effect, Ref, Stream } from "effect"
import type { ConnectorFailure } from "../ConnectorError.ts"
import { DataError, Stopped } from "../EngineError.ts"
import type { FailureContext, StepError } from "../EngineError.ts"
import type { PlannedStep, PlannedUnit } from "../Plan.ts"
import { Progress } from "../Progress.ts"
import { RetryObserver, withRetry } from "../Retry.ts"
import { batchDuration, rowsTotal } from "../Telemetry.ts"
import type { RowOutcome, UnitAttributes } from "../Telemetry.ts"
import type { KeyTuple, Page } from "../Rows.ts"
import { zeroCounts } from "../RunLedger.ts"
import type { RunHandle, RunLedger, UnitCounts } from "../RunLedger.ts"
import type { KeysetSource, SourceReader } from "../SqlConnector.ts"
import { readPages } from "./PagedRead.ts"
import type { UnitReport } from "./Report.ts"
import { badRowsError, keyRange, keyTuple, toStepError } from "./Support.ts"
import type { BadRow } from "./Support.ts"

/** What one committed batch did; `read` counts source rows (a folded row stands for several). */
export interface BatchOutcome {
  readonly read: number
  readonly created: number
  readonly updated: number
  readonly unchanged: number
  readonly combined: number
  readonly rejected: ReadonlyArray<BadRow>
}

/**
 * What a unit does with one page: `prepare` (CPU work and reads, e.g. embedding) then
 * `commit` (the writes). The two run as pipeline stages, so page N+1 is prepared while
 * page N is written. Under `on_error: fail` either stage fails on a bad row before
 * anything of its batch is written.
 */
export interface PageWork<P> {
  readonly prepare: (page: Page, context: FailureContext, retried: Effect.Effect<void>) => Effect.Effect<P, ConnectorFailure | DataError>
  readonly commit: (prepared: P, context: FailureContext, retried: Effect.Effect<void>) => Effect.Effect<BatchOutcome, ConnectorFailure | DataError>
}

/** Shared by the units of one run: the stop signal and each step's rejected-row count. */
export interface RunControl {
  /** Set when a step fails: the others finish their current batch, checkpoint and stop. */
  readonly stop: Ref.Ref<boolean>
  readonly rejectedBySteps: Map<string, Ref.Ref<number>>
}

/** Rows with a NULL key are fetched and rejected individually up to this many; more fails the unit. */
export const maxNullKeyRows = 10_000

export interface UnitArgs<P> {
  readonly step: PlannedStep
  readonly unit: PlannedUnit
  /** The source as this run reads it (incremental bound applied). */
  readonly source: KeysetSource
  readonly sql: SourceReader
  readonly run: RunHandle
  readonly ledger: RunLedger
  readonly control: RunControl
  readonly work: PageWork<P>
  /** Why a row whose key (or cursor) is NULL is rejected, e.g. "NULL in key column doc_id". */
  readonly nullKeyReason: (row: Readonly<Record<string, unknown>>) => string
  /** The pipeline's name, for metric attributes. */
  readonly pipeline: string
  /** Set when this is one range of a unit split across workers (`source.through` bounds it above). */
  readonly part?: UnitPart
  /**
   * Awaited before the unit writes anything (its first batch, or marking an empty unit
   * done): the units it depends on have completed. Reading and preparing go ahead meanwhile.
   * False: stop without writing.
   */
  readonly ready?: Effect.Effect<boolean>
}

/** One range of a unit, as a distributed run hands it to a worker. */
export interface UnitPart {
  readonly index: number
  /** The range starts after this key (null: at the source's start). */
  readonly after: KeyTuple | null
  /** What the range's checkpoint is recorded as: a name unique to the unit and the range's bounds. */
  readonly checkpoint: string
}

type Outcome = Omit<BatchOutcome, "rejected"> & { readonly rejected: number }

const outcomes: ReadonlyArray<Exclude<RowOutcome, "deleted">> = ["read", "created", "updated", "unchanged", "combined", "rejected"]

/** Adds a batch's outcome to the unit's counts and to the row metrics. */
const add = (counts: Ref.Ref<UnitCounts>, where: UnitAttributes, o: Outcome) =>
  Ref.update(counts, (c) => ({
    ...c,
    read: c.read + o.read,
    created: c.created + o.created,
    updated: c.updated + o.updated,
    unchanged: c.unchanged + o.unchanged,
    combined: c.combined + o.combined,
    rejected: c.rejected + o.rejected
  })).pipe(Effect.andThen(Effect.forEach(outcomes, (k) => rowsTotal(where, k, o[k]), { discard: true })))

/**
 * Runs one unit: counts its source, rejects rows with NULL keys (under `skip`), then
 * streams it in keyset pages through prepare and commit, recording rejected rows and a
 * checkpoint per committed batch. A unit already done in the run being resumed is not
 * run again; a unit told to stop finishes its batch and reports `stopped`.
 */
export const runUnit = <P>(args: UnitArgs<P>): Effect.Effect<UnitReport, StepError | DataError, never> =>
  Effect.gen(function*() {
    const reasons = yield* Ref.make<Record<string, number>>({})
    const report = yield* unitBody(args).pipe(
      Effect.provideService(RetryObserver, (reason) => Ref.update(reasons, (r) => ({ ...r, [reason]: (r[reason] ?? 0) + 1 }))),
      // A failed or interrupted unit ends its progress too, so live lines do not outlive it.
      Effect.onError((cause) => Effect.flatMap(Progress, (p) => p.unitEnd(args.part?.checkpoint ?? args.unit.unit, Cause.hasInterruptsOnly(cause) ? "interrupted" : "failed")))
    )
    return { ...report, retryReasons: yield* Ref.get(reasons) }
  }).pipe(
    Effect.withSpan("polymath.unit", { attributes: { "polymath.pipeline": args.pipeline, "polymath.step": args.step.name, "polymath.unit": args.unit.unit, "polymath.source": args.source.name } }),
    Effect.annotateLogs({ step: args.step.name, unit: args.unit.unit })
  )

const unitBody = <P>(args: UnitArgs<P>): Effect.Effect<Omit<UnitReport, "retryReasons">, StepError | DataError, never> =>
  Effect.gen(function*() {
    const progress = yield* Progress
    const started = yield* Clock.currentTimeMillis
    const { step, unit, source, ledger, run, part } = args
    // Resolved once, then free: the dependencies' outcome does not change.
    const ready = args.ready === undefined ? Effect.succeed(true) : yield* Effect.cached(args.ready)
    // A range checkpoints under its own name; rejected rows, metrics and messages keep the unit's.
    const name = part?.checkpoint ?? unit.unit
    const checkpoint = run.checkpoints.get(name)
    const base: FailureContext = { step: step.name, unit: unit.unit, source: source.name, keyRange: null }
    const report = (c: UnitCounts, total: number | null, status: UnitReport["status"]) =>
      Effect.map(Clock.currentTimeMillis, (now): Omit<UnitReport, "retryReasons"> => ({ step: step.name, unit: unit.unit, source: source.name, total, millis: now - started, status, ...c }))
    if (checkpoint?.done) return yield* report(checkpoint.counts, null, "done before")

    const where: UnitAttributes = { pipeline: args.pipeline, step: step.name, unit: unit.unit }
    const counts = yield* Ref.make<UnitCounts>({ ...zeroCounts, ...checkpoint?.counts })
    const retried = Ref.update(counts, (c) => ({ ...c, retried: c.retried + 1 }))
    const retry = <A, E>(e: Effect.Effect<A, E>) => withRetry(e, step.retry, () => retried)
    const save = (lastKey: KeyTuple | null, done: boolean) =>
      Effect.flatMap(Ref.get(counts), (c) => retry(ledger.checkpoint(run.runId, { unit: name, lastKey, done, counts: c })))
    const stepRejected = args.control.rejectedBySteps.get(step.name)!
    const reject = (bad: ReadonlyArray<BadRow>, context: FailureContext): Effect.Effect<void, StepError | DataError> =>
      Effect.gen(function*() {
        if (bad.length === 0) return
        if (step.rows.onError === "fail") return yield* Effect.fail(badRowsError(context, source.key, bad))
        yield* retry(ledger.reject(run.runId, bad.map((b) => ({ step: step.name, unit: unit.unit, source: source.name, key: keyTuple(b.row, source.key), reason: b.reason })))).pipe(
          Effect.mapError(toStepError(context))
        )
        const total = yield* Ref.updateAndGet(stepRejected, (n) => n + bad.length)
        if (step.rows.maxRejected !== null && total > step.rows.maxRejected) {
          return yield* Effect.fail(new DataError({ context, detail: `step ${step.name} has rejected ${total} rows, more than its max_rejected (${step.rows.maxRejected})`, hint: `see SELECT * FROM polymath_etl.rejected_rows WHERE run_id = '${run.runId}'` }))
        }
      })

    // Keyset pages cannot reach rows whose key is NULL, so they are rejected here, once. (Under
    // `on_error: fail` the run checked before writing anything that there are none.)
    // NULL keys are in no range: the first range of a split unit takes them.
    const takesNullKeys = part === undefined || part.index === 0
    if (checkpoint === undefined && step.rows.onError === "skip" && takesNullKeys) {
      const nulls = yield* retry(args.sql.nullKeys(source, maxNullKeyRows)).pipe(Effect.mapError(toStepError(base)))
      if (nulls.count > nulls.rows.length) {
        return yield* Effect.fail(new DataError({ context: base, detail: `${nulls.count} rows have a NULL in key column(s) ${source.key.join(", ")}, more than the ${maxNullKeyRows} that can be rejected one by one`, hint: "filter them out in the source's query" }))
      }
      const bad = nulls.rows.map((row) => ({ row, reason: args.nullKeyReason(row) }))
      yield* reject(bad, base)
      yield* add(counts, where, { read: bad.length, created: 0, updated: 0, unchanged: 0, combined: 0, rejected: bad.length })
      yield* save(null, false).pipe(Effect.mapError(toStepError(base)))
    }
    // Progress counts rows as pages hold them (a folded row is one). After a resume, what was
    // paged already is estimated from the counts: rows read, less those folded into others and
    // the NULL-key rows rejected before paging (which the pages leave out; counted again here,
    // the source may have changed). Only an estimate, so a failure to count is not the unit's.
    const sofar = yield* Ref.get(counts)
    const nullKeysBefore = checkpoint === undefined
      ? sofar.rejected
      : step.rows.onError === "skip" && takesNullKeys
      ? yield* args.sql.nullKeys(source, 0).pipe(Effect.map((n) => Math.min(n.count, sofar.rejected)), Effect.orElseSucceed(() => 0))
      : 0
    const alreadyDone = Math.max(0, sofar.read - sofar.combined - nullKeysBefore)
    // The total is what was paged before plus what this pass yields, which its first page tells
    // (the reader counts it in the pass's own snapshot); a pass that yields nothing adds 0.
    let total: number | null = null
    const start = (rows: number) =>
      Effect.suspend(() => (total === null ? progress.unitStart(name, (total = rows), Math.min(rows, alreadyDone)) : Effect.void))
    // A reader that does not tell the pass's rows is asked for the source's count, once.
    const counted = (page: Page) =>
      page.passRows !== undefined
        ? start(alreadyDone + page.passRows)
        : total === null
        ? Effect.flatMap(retry(args.sql.count(source)), start)
        : Effect.void

    let lastKey: KeyTuple | null = checkpoint?.lastKey ?? part?.after ?? null
    const pass = readPages(args.sql, source, lastKey, step.retry, retried).pipe(
      Stream.tap(counted),
      Stream.mapError(toStepError(base)),
      // Read ahead one page, and prepare the next page while the previous one is written.
      Stream.buffer({ capacity: 1 }),
      Stream.mapEffect((page) => {
        const context = { ...base, keyRange: keyRange(page, source.key) }
        return args.work.prepare(page, context, retried).pipe(
          Effect.mapError(toStepError(context)),
          Effect.map((prepared) => ({ page, context, prepared }))
        )
      }),
      Stream.buffer({ capacity: 1 }),
      Stream.runForEach(({ page, context, prepared }) =>
        Effect.gen(function*() {
          if (!(yield* ready) || (yield* Ref.get(args.control.stop))) return yield* Effect.fail(new Stopped())
          const before = yield* Clock.currentTimeMillis
          const outcome = yield* args.work.commit(prepared, context, retried).pipe(Effect.mapError(toStepError(context)))
          yield* reject(outcome.rejected, context)
          yield* add(counts, where, { ...outcome, rejected: outcome.rejected.length })
          lastKey = page.lastKey
          yield* save(lastKey, false).pipe(Effect.mapError(toStepError(context)))
          yield* batchDuration(where, (yield* Clock.currentTimeMillis) - before)
          yield* progress.unitAdvance(name, page.rows.length)
        }).pipe(
          Effect.withSpan("polymath.batch", { attributes: { "polymath.unit": unit.unit, "polymath.rows": page.rows.length, "polymath.key_range": context.keyRange ?? "" } }),
          Effect.annotateLogs({ keys: context.keyRange ?? "" })
        )
      )
    )
    const ended = yield* pass.pipe(
      // A unit with nothing (left) to read is marked done only once the units it depends on are.
      Effect.andThen(Effect.map(ready, (ok) => (ok ? "done" as const : "stopped" as const))),
      Effect.catchTag("Stopped", () => Effect.succeed("stopped" as const))
    )
    yield* start(alreadyDone)
    if (ended === "stopped") {
      yield* progress.unitEnd(name, "stopped")
      return yield* report(yield* Ref.get(counts), total, "stopped")
    }
    yield* save(lastKey, true).pipe(Effect.mapError(toStepError(base)))
    yield* progress.unitEnd(name, "done")
    return yield* report(yield* Ref.get(counts), total, "done")
  })
