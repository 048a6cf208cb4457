import { Cause, Deferred, Effect, Exit, Ref, Scope, Stream } from "effect"
import type { ConnectorFailure } from "./ConnectorError.ts"
import { isRetryable } from "./ConnectorError.ts"
import { Connectors, Embedders } from "./Connectors.ts"
import type { Embedder } from "./Embedder.ts"
import { DataError, PlanError, StepError } from "./EngineError.ts"
import type { FailureContext } from "./EngineError.ts"
import type { GraphConnector, GraphWriteResult, Lineage } from "./GraphConnector.ts"
import type { EmbedStep, EmbedUnit, GraphStep, GraphUnit, Plan, PlannedSource, PlannedStep } from "./Plan.ts"
import { Progress } from "./Progress.ts"
import { backoffDelay, defaultRetry, withRetry } from "./Retry.ts"
import type { RetryPolicy } from "./Retry.ts"
import { formatKey } from "./Rows.ts"
import type { KeyTuple, Page, Row, Value } from "./Rows.ts"
import type { RunHandle, RunIdentity, RunLedger, RunStatus, UnitCheckpoint, UnitCounts } from "./RunLedger.ts"
import type { SqlConnector } from "./SqlConnector.ts"

/** Counters and timing of one unit, as shown in the summary. */
export interface UnitReport extends UnitCounts {
  readonly step: string
  readonly unit: string
  readonly source: string
  /** Rows the source holds now (dry run: what a run would read). */
  readonly total: number | null
  readonly millis: number
  /** True when the unit was already done in the run being resumed. */
  readonly fromCheckpoint: boolean
}

/** The outcome of executing a plan. */
export interface RunReport {
  readonly runId: string | null
  readonly resumed: boolean
  readonly dryRun: boolean
  readonly units: ReadonlyArray<UnitReport>
  /** Execution provider per embed model, e.g. { "bge-m3": "cuda" }. */
  readonly providers: Readonly<Record<string, string>>
  readonly millis: number
}

export interface ExecuteOptions {
  readonly dryRun: boolean
  /** Continue the latest unfinished run with the same identity. */
  readonly resume: boolean
}

/** Any failure of a run. */
export type RunError = StepError | DataError | PlanError | ConnectorFailure

const zero: UnitCounts = { read: 0, written: 0, skipped: 0, retried: 0 }

const sqlOf = (c: Connectors["Service"], name: string): SqlConnector => {
  const s = c.sql.get(name)
  if (!s) throw new Error(`connection ${name} is not open`)
  return s
}
const graphOf = (c: Connectors["Service"], name: string): GraphConnector => {
  const g = c.graph.get(name)
  if (!g) throw new Error(`connection ${name} is not open`)
  return g
}

const rowKey = (row: Row, columns: ReadonlyArray<string>): string =>
  columns.map((c) => `${c}=${String(row[c] as unknown)}`).join(", ")

const keyRange = (page: Page, key: ReadonlyArray<string>): string => {
  const first = page.rows[0]
  return first ? `${formatKey(key.map((k) => String(first[k] as unknown)))} .. ${formatKey(page.lastKey)}` : formatKey(page.lastKey)
}

const toStepError = (context: FailureContext) => (e: ConnectorFailure): StepError | ConnectorFailure =>
  e instanceof DataError || e instanceof StepError ? e : new StepError({ context, reason: e.reason, isRetryable: e.isRetryable, detail: e.message })

/**
 * Checks what can only be checked against the live systems, before anything is
 * written: models exist, vector columns exist and have the model's dimension.
 */
export const preflight = (plan: Plan) =>
  Effect.gen(function*() {
    const connectors = yield* Connectors
    const embedders = yield* Embedders
    const problems: Array<string> = []
    for (const step of plan.steps) {
      if (step.kind !== "embed") continue
      const u = step.unit
      const model = yield* embedders.describe(u.model).pipe(Effect.result)
      const target = yield* sqlOf(connectors, u.targetConnection).describeVectorTarget(u.target).pipe(Effect.result)
      if (model._tag === "Failure") problems.push(`step ${step.name}: ${model.failure.message}`)
      if (target._tag === "Failure") problems.push(`step ${step.name}: ${target.failure.message}`)
      if (model._tag === "Success" && target._tag === "Success") {
        const dims = target.success.dimensions
        if (dims !== null && dims !== model.success.dimensions) {
          problems.push(`step ${step.name}: model ${u.model} makes ${model.success.dimensions}-d vectors but ${u.target.table}.${u.target.vector} is vector(${dims})`)
        }
        if (u.declaredDimensions !== null && dims !== null && u.declaredDimensions !== dims) {
          problems.push(`step ${step.name}: the pipeline says ${u.target.table}.${u.target.vector} has ${u.declaredDimensions} dimensions, the database says ${dims}`)
        }
      }
    }
    if (problems.length > 0) return yield* Effect.fail(new PlanError({ problems }))
  })

const sourceName = (s: PlannedSource) => s.keyset.name

/**
 * Reads a source page by page after `start`, re-reading from the last page handed
 * downstream when a read fails transiently, so no page is skipped or read twice.
 * The retry budget applies to consecutive failures: any page read resets it.
 */
const readPages = (sql: SqlConnector, source: PlannedSource, start: KeyTuple | null, policy: RetryPolicy, onRetry: Effect.Effect<void>): Stream.Stream<Page, ConnectorFailure> =>
  Stream.unwrap(Effect.gen(function*() {
    const lastRead = yield* Ref.make(start)
    const failures = yield* Ref.make(0)
    const attempt = (): Stream.Stream<Page, ConnectorFailure> =>
      Stream.suspend(() => sql.pages(source.keyset, Ref.getUnsafe(lastRead))).pipe(
        Stream.tap((page) => Ref.set(lastRead, page.lastKey).pipe(Effect.andThen(Ref.set(failures, 0)))),
        Stream.catchIf(
          (e: ConnectorFailure) => isRetryable(e) && Ref.getUnsafe(failures) + 1 < policy.attempts,
          () =>
            Stream.fromEffectDrain(
              Ref.getAndUpdate(failures, (n) => n + 1).pipe(
                Effect.tap(() => onRetry),
                Effect.flatMap((n) => Effect.sleep(backoffDelay(policy, n)))
              )
            ).pipe(Stream.concat(Stream.suspend(attempt)))
        )
      )
    return attempt()
  }))

interface UnitState {
  counts: { read: number; written: number; skipped: number; retried: number }
}

const runEmbedUnit = (step: EmbedStep, embedder: Embedder, run: RunHandle, ledger: RunLedger) =>
  Effect.gen(function*() {
    const connectors = yield* Connectors
    const u: EmbedUnit = step.unit
    const sql = sqlOf(connectors, u.source.connection)
    const target = sqlOf(connectors, u.targetConnection)
    return yield* processUnit({
      step: step.name,
      unit: u.unit,
      sql,
      source: u.source,
      policy: step.retry,
      run,
      ledger,
      work: {
        // Validating and embedding a page is CPU work; it overlaps the previous page's write.
        prepare: (page, context) =>
          Effect.gen(function*() {
            const ids: Array<Value> = []
            const texts: Array<string> = []
            for (const row of page.rows) {
              if (!(u.idColumn in row)) return yield* Effect.fail(new DataError({ context, detail: `source ${sourceName(u.source)} has no column '${u.idColumn}' (columns: ${Object.keys(row).join(", ")})` }))
              if (!(u.textColumn in row)) return yield* Effect.fail(new DataError({ context, detail: `source ${sourceName(u.source)} has no column '${u.textColumn}' (columns: ${Object.keys(row).join(", ")})` }))
              const text = row[u.textColumn]
              if (typeof text !== "string") return yield* Effect.fail(new DataError({ context, detail: `${u.textColumn} is ${text === null ? "NULL" : typeof text} for ${rowKey(row, u.source.keyset.key)}` }))
              ids.push(row[u.idColumn]!)
              texts.push(text)
            }
            return { ids, vectors: yield* embedder.embed(texts) }
          }),
        commit: (batch, state) => withRetry(target.writeVectors(u.target, batch), step.retry, () => Effect.sync(() => void state.counts.retried++))
      }
    })
  })

/**
 * What a unit does with one page: `prepare` (pure work, e.g. embedding) then
 * `commit` (the write). The two run as pipeline stages so they overlap.
 */
interface PageWork<P> {
  readonly prepare: (page: Page, context: FailureContext) => Effect.Effect<P, ConnectorFailure | DataError>
  readonly commit: (prepared: P, state: UnitState, context: FailureContext) => Effect.Effect<{ readonly written: number; readonly skipped: number }, ConnectorFailure | DataError>
}

const processUnit = <P>(args: {
  readonly step: string
  readonly unit: string
  readonly sql: SqlConnector
  readonly source: PlannedSource
  readonly policy: RetryPolicy
  readonly run: RunHandle
  readonly ledger: RunLedger
  readonly work: PageWork<P>
}) =>
  Effect.gen(function*() {
    const progress = yield* Progress
    const started = Date.now()
    const checkpoint: UnitCheckpoint | undefined = args.run.checkpoints.get(args.unit)
    const baseContext: FailureContext = { step: args.step, unit: args.unit, source: sourceName(args.source), keyRange: null }
    const report = (state: UnitState, total: number | null, fromCheckpoint: boolean): UnitReport => ({
      step: args.step,
      unit: args.unit,
      source: sourceName(args.source),
      total,
      millis: Date.now() - started,
      fromCheckpoint,
      ...state.counts
    })
    if (checkpoint?.done) {
      return report({ counts: { ...checkpoint.counts } }, null, true)
    }
    const state: UnitState = { counts: { ...(checkpoint?.counts ?? zero) } }
    const total = yield* withRetry(args.sql.count(args.source.keyset.statement), args.policy, () => Effect.sync(() => void state.counts.retried++)).pipe(
      Effect.mapError(toStepError(baseContext))
    )
    yield* progress.unitStart(args.unit, total, state.counts.read)
    const save = (lastKey: KeyTuple | null, done: boolean) =>
      withRetry(args.ledger.checkpoint(args.run.runId, { unit: args.unit, lastKey, done, counts: { ...state.counts } }), args.policy, () => Effect.sync(() => void state.counts.retried++))
    let lastKey: KeyTuple | null = checkpoint?.lastKey ?? null
    yield* readPages(args.sql, args.source, lastKey, args.policy, Effect.sync(() => void state.counts.retried++)).pipe(
      Stream.mapError(toStepError(baseContext)),
      // Read ahead one page, and prepare the next page while the previous one is written.
      Stream.buffer({ capacity: 1 }),
      Stream.mapEffect((page) => {
        const context = { ...baseContext, keyRange: keyRange(page, args.source.keyset.key) }
        return args.work.prepare(page, context).pipe(
          Effect.mapError(toStepError(context)),
          Effect.map((prepared) => ({ page, context, prepared }))
        )
      }),
      Stream.buffer({ capacity: 1 }),
      Stream.runForEach(({ page, context, prepared }) => {
        return args.work.commit(prepared, state, context).pipe(
          Effect.mapError(toStepError(context)),
          Effect.flatMap((r) =>
            Effect.suspend(() => {
              state.counts.read += page.rows.length
              state.counts.written += r.written
              state.counts.skipped += r.skipped
              lastKey = page.lastKey
              return save(lastKey, false)
            })
          ),
          Effect.andThen(progress.unitAdvance(args.unit, page.rows.length))
        )
      })
    )
    yield* save(lastKey, true).pipe(Effect.mapError(toStepError(baseContext)))
    yield* progress.unitEnd(args.unit)
    return report(state, total, false)
  })

const graphWork = (step: GraphStep, unit: GraphUnit, graph: GraphConnector, lineage: Lineage): PageWork<Page> => ({
  prepare: (page) => Effect.succeed(page),
  commit: (page, state, context) => {
    const write: Effect.Effect<GraphWriteResult, ConnectorFailure> = unit.kind === "nodes"
      ? graph.writeNodes(unit.write, page.rows, lineage)
      : graph.writeRelationships(unit.write, page.rows, lineage)
    return withRetry(write, step.retry, () => Effect.sync(() => void state.counts.retried++)).pipe(
      Effect.flatMap((r) => {
        if (r.missing > 0 && unit.kind === "relationships") {
          const w = unit.write
          const sample = r.missingSample
            .map((row) => `(${[...w.start.key, ...w.end.key].map((k) => `${k.column}=${String(row[k.column] as unknown)}`).join(", ")})`)
            .join("; ")
          return Effect.fail(new DataError({
            context,
            detail: `${r.missing} ${w.type} row(s) have no ${w.start.label} or ${w.end.label} node to connect, e.g. ${sample}`
          }))
        }
        return Effect.succeed(r)
      })
    )
  }
})

const runGraphStep = (step: GraphStep, run: RunHandle, ledger: RunLedger, pipeline: string) =>
  Effect.gen(function*() {
    const connectors = yield* Connectors
    const graph = graphOf(connectors, step.connection)
    yield* withRetry(graph.ensureConstraints(step.constraints), step.retry, () => Effect.void).pipe(
      Effect.mapError(toStepError({ step: step.name, unit: `${step.name}/constraints`, source: "-", keyRange: null }))
    )
    const lineage: Lineage = { runId: run.runId, pipeline, extra: step.lineage }
    const reports: Array<UnitReport> = []
    for (const unit of step.units) {
      const sql = sqlOf(connectors, unit.source.connection)
      reports.push(yield* processUnit({
        step: step.name,
        unit: unit.unit,
        sql,
        source: unit.source,
        policy: step.retry,
        run,
        ledger,
        work: graphWork(step, unit, graph, lineage)
      }))
    }
    return reports
  })

/** Counts what a run would read, per unit; writes nothing. */
const dryRun = (plan: Plan) =>
  Effect.gen(function*() {
    const connectors = yield* Connectors
    const units: Array<UnitReport> = []
    for (const step of plan.steps) {
      const list: ReadonlyArray<{ unit: string; source: PlannedSource }> = step.kind === "embed" ? [step.unit] : step.units
      for (const u of list) {
        const started = Date.now()
        const total = yield* sqlOf(connectors, u.source.connection).count(u.source.keyset.statement).pipe(
          Effect.mapError(toStepError({ step: step.name, unit: u.unit, source: sourceName(u.source), keyRange: null }))
        )
        units.push({ step: step.name, unit: u.unit, source: sourceName(u.source), total, millis: Date.now() - started, fromCheckpoint: false, ...zero })
      }
    }
    return units
  })

const failureText = (exit: Exit.Exit<unknown, unknown>): string | null => {
  if (Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause)) return null
  const e = Cause.squash(exit.cause)
  return e instanceof Error ? e.message : String(e)
}

/**
 * Starts the run in the ledger, retrying transient failures. Each attempt gets its
 * own child scope so a failed attempt releases what it acquired (the pipeline lock)
 * before the next one tries; the successful attempt's scope lives as long as the run.
 */
const beginRun = (ledger: RunLedger, identity: RunIdentity, resume: boolean, policy: RetryPolicy) =>
  Effect.gen(function*() {
    const parent = yield* Effect.scope
    const attempt = Effect.gen(function*() {
      const child = yield* Scope.fork(parent)
      return yield* ledger.begin(identity, { resume }).pipe(
        Scope.provide(child),
        Effect.onError((cause) => Scope.close(child, Exit.failCause(cause)))
      )
    })
    return yield* withRetry(attempt, policy, () => Effect.void)
  })

const statusOf = (exit: Exit.Exit<unknown, unknown>): RunStatus =>
  Exit.isSuccess(exit) ? "succeeded" : Cause.hasInterruptsOnly(exit.cause) ? "interrupted" : "failed"

/**
 * Executes a plan: preflight, then every step in dependency order (independent
 * steps concurrently), each unit streaming its source in keyset pages with
 * retries and a checkpoint per committed batch. The run ledger records the run;
 * whatever ends it (success, failure, interruption) is written there.
 */
export const execute = (plan: Plan, options: ExecuteOptions) =>
  Effect.gen(function*() {
    const started = Date.now()
    yield* preflight(plan)
    if (options.dryRun) {
      const units = yield* dryRun(plan)
      return { runId: null, resumed: false, dryRun: true, units, providers: {}, millis: Date.now() - started } satisfies RunReport
    }
    const connectors = yield* Connectors
    const embedders = yield* Embedders
    const progress = yield* Progress
    const ledger = sqlOf(connectors, plan.ledgerConnection).ledger
    return yield* Effect.scoped(Effect.gen(function*() {
      const identity = { pipeline: plan.pipeline, specHash: plan.specHash, params: Object.fromEntries(Object.entries(plan.params).map(([k, v]) => [k, String(v)])), model: plan.models.join(",") || null }
      const run = yield* beginRun(ledger, identity, options.resume, plan.steps[0]?.retry ?? defaultRetry)
      yield* progress.note(run.resumed ? `resuming run ${run.runId}` : `run ${run.runId}`)
      const providers: Record<string, string> = {}
      const done = new Map<string, Deferred.Deferred<void>>()
      for (const s of plan.steps) done.set(s.name, yield* Deferred.make<void>())
      const runStep = (step: PlannedStep): Effect.Effect<ReadonlyArray<UnitReport>, RunError, Connectors | Embedders> =>
        Effect.gen(function*() {
          for (const a of step.after) yield* Deferred.await(done.get(a)!)
          const reports: ReadonlyArray<UnitReport> = step.kind === "embed"
            ? yield* Effect.scoped(Effect.gen(function*() {
              const embedder = yield* embedders.load(step.unit.model)
              providers[step.unit.model] = embedder.provider
              yield* progress.note(`${step.name}: model ${embedder.model.name} (${embedder.model.dimensions}-d) on ${embedder.provider}`)
              return [yield* runEmbedUnit(step, embedder, run, ledger)]
            }))
            : yield* runGraphStep(step, run, ledger, plan.pipeline)
          yield* Deferred.succeed(done.get(step.name)!, undefined)
          return reports
        })
      const perStep = yield* Effect.forEach(plan.steps, runStep, { concurrency: "unbounded" }).pipe(
        Effect.onExit((exit) => withRetry(ledger.finish(run.runId, statusOf(exit), failureText(exit)), defaultRetry, () => Effect.void).pipe(Effect.ignore))
      )
      return { runId: run.runId, resumed: run.resumed, dryRun: false, units: perStep.flat(), providers, millis: Date.now() - started } satisfies RunReport
    }))
  })

