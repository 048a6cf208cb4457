import { Effect, Ref } from "effect"
import { Connectors, Embedders } from "../Connectors.ts"
import type { Embedder } from "../Embedder.ts"
import type { KeyTuple } from "../Rows.ts"
import type { EmbedStep, GraphStep, GraphUnit, Plan, PlannedStep, PlannedUnit } from "../Plan.ts"
import { Progress } from "../Progress.ts"
import { RunEvents } from "../RunEvents.ts"
import { withRetry } from "../Retry.ts"
import type { RunHandle, RunLedger } from "../RunLedger.ts"
import type { KeysetSource, SourceCursor } from "../SqlConnector.ts"
import { rowsTotal } from "../Telemetry.ts"
import { effectiveSource } from "./Cursors.ts"
import { embedWork } from "./EmbedWork.ts"
import { graphWork, identityRoles, missingIdentity } from "./GraphWork.ts"
import { initialLoadDecisions } from "./InitialLoad.ts"
import { groupMirrors, seenDecisions, sweep, sweepPeers } from "./Mirror.ts"
import type { UnitReport } from "./Report.ts"
import { graphOf, sqlOf, toStepError } from "./Support.ts"
import { runInDependencyOrder, unitDependencies } from "./UnitOrder.ts"
import { runUnit } from "./UnitRunner.ts"
import type { PageWork, RunControl, UnitPart } from "./UnitRunner.ts"

/**
 * The two kinds of step: an embed step runs its one unit with the model loaded for the
 * step's duration; a graph step ensures its constraints, runs its units (nodes before the
 * relationships that need them, units on disjoint labels concurrently), then mirrors deletions.
 */

export interface RunContext {
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

/** Runs one unit of a step over its source as this run reads it (or one range of it, in a distributed run). */
export const runPlannedUnit = <P>(ctx: RunContext, step: PlannedStep, u: PlannedUnit, work: PageWork<P>, part?: { readonly part: UnitPart; readonly through: KeyTuple | null }, ready?: Effect.Effect<boolean>) =>
  Effect.gen(function*() {
    const connectors = yield* Connectors
    const effective = effectiveSource(u.source, ctx.windows)
    const source = part === undefined ? effective : { ...effective, through: part.through }
    const report = yield* runUnit({ step, unit: u, source, sql: sqlOf(connectors, u.source.connection), run: ctx.run, ledger: ctx.ledger, control: ctx.control, work, nullKeyReason: nullKeyReason(u, source), pipeline: ctx.plan.pipeline, ...(part === undefined ? {} : { part: part.part }), ...(ready === undefined ? {} : { ready }) })
    yield* Effect.flatMap(RunEvents, (events) => events.unitEnded(report))
    return report
  })

/** Loads an embed step's model for the scope and notes which it is and where it runs. */
export const loadStepEmbedder = (ctx: RunContext, step: EmbedStep) =>
  Effect.gen(function*() {
    const embedders = yield* Embedders
    const progress = yield* Progress
    const u = step.unit
    const embedder = yield* embedders.load(u.model).pipe(Effect.mapError(toStepError({ step: step.name, unit: u.unit, source: u.source.keyset.name, keyRange: null })))
    ctx.providers[u.model] = embedder.provider
    const variant = embedder.variant === undefined ? "" : `, run as its int8 variant ${embedder.variant}`
    yield* progress.note(`${step.name}: model ${embedder.model.name} (${embedder.model.dimensions}-d) on ${embedder.provider}${variant}`)
    if (embedder.variant !== undefined) {
      ctx.notes.push(`${step.name}: ${u.model} ran as its int8 variant ${embedder.variant} on ${embedder.provider} (POLYMATH_EMBED_PRECISION=fp32 runs ${u.model} itself)`)
    }
    return embedder
  })

/** An embed step's page work over an embedder. */
export const embedStepWork = (ctx: RunContext, step: EmbedStep, embedder: Embedder) =>
  Effect.map(Connectors, (connectors) => embedWork(step.unit, step.rows, step.retry, sqlOf(connectors, step.unit.targetConnection), embedder, ctx.run.runId, ctx.plan.pipeline))

/** A graph unit's page work. */
export const graphUnitWork = (ctx: RunContext, step: GraphStep, u: GraphUnit, recordSeen = groupMirrors(step.units, u), initialLoad = false) =>
  Effect.map(Connectors, (connectors) => graphWork(u, step.rows, step.retry, graphOf(connectors, step.connection), ctx.ledger, { scope: step.scope, runId: ctx.run.runId }, recordSeen, initialLoad))

export const runEmbedStep = (ctx: RunContext, step: EmbedStep) =>
  Effect.scoped(Effect.gen(function*() {
    const embedder = yield* loadStepEmbedder(ctx, step)
    const report = yield* runPlannedUnit(ctx, step, step.unit, yield* embedStepWork(ctx, step, embedder))
    yield* buildVectorIndex(ctx, step, report)
    return [report]
  }))

/** Builds the index an embed step declares, once its vectors are written (building it first would slow every write). */
export const buildVectorIndex = (ctx: RunContext, step: EmbedStep, report: UnitReport) =>
  Effect.gen(function*() {
    const connectors = yield* Connectors
    const progress = yield* Progress
    const u = step.unit
    const index = u.target.index
    if (index === undefined || (report.status !== "done" && report.status !== "done before")) return
    const built = yield* withRetry(sqlOf(connectors, u.targetConnection).ensureVectorIndex(u.target), step.retry, () => Effect.void).pipe(
      Effect.mapError(toStepError({ step: step.name, unit: `${step.name}/index`, source: u.source.keyset.name, keyRange: null })),
      Effect.withSpan("polymath.vector_index", { attributes: { "polymath.step": step.name } })
    )
    const what = `${index.method} index ${built.name} (${index.metric}) on ${u.target.table}.${u.target.vector}`
    if (built.created) {
      ctx.notes.push(`${step.name}: built ${what}`)
      yield* progress.note(`${step.name}: built ${what}`)
    }
  })

/** Creates a graph step's uniqueness constraints and vector indexes (idempotent). */
export const ensureGraphSchema = (step: GraphStep) =>
  Effect.gen(function*() {
    const graph = graphOf(yield* Connectors, step.connection)
    yield* withRetry(Effect.andThen(graph.ensureConstraints(step.constraints), graph.ensureVectorIndexes(step.vectorIndexes)), step.retry, () => Effect.void).pipe(
      Effect.mapError(toStepError({ step: step.name, unit: `${step.name}/constraints`, source: "-", keyRange: null }))
    )
  })

export const runGraphStep = (ctx: RunContext, step: GraphStep) =>
  Effect.gen(function*() {
    // Decided for every unit before any writes, so no unit's check sees another's writes. The
    // constraints write no data, so the decisions are taken while they are made.
    const graph = graphOf(yield* Connectors, step.connection)
    const fresh = (u: GraphUnit) => !ctx.run.checkpoints.has(u.unit)
    const [, recordSeen, initialLoad] = yield* Effect.all([
      ensureGraphSchema(step),
      withRetry(seenDecisions(step.units, step.scope, graph, ctx.ledger, ctx.run.runId, fresh), step.retry, () => Effect.void).pipe(
        Effect.mapError(toStepError({ step: step.name, unit: `${step.name}/seen`, source: "-", keyRange: null }))
      ),
      withRetry(initialLoadDecisions(ctx.plan, step.units, graph, fresh), step.retry, () => Effect.void).pipe(
        Effect.mapError(toStepError({ step: step.name, unit: `${step.name}/initial-load`, source: "-", keyRange: null }))
      )
    ], { concurrency: "unbounded" })
    const types = step.units.flatMap((u, i) => (initialLoad[i] && u.write.kind === "relationships" ? [u.write.type] : []))
    if (types.length > 0) {
      const note = `${step.name}: initial load of ${types.join(", ")} (the graph held none): relationships created without searching for existing ones`
      ctx.notes.push(note)
      yield* (yield* Progress).note(note)
    }
    const ran = yield* runInDependencyOrder(
      unitDependencies(step.units),
      (i, ready) =>
        Effect.flatMap(graphUnitWork(ctx, step, step.units[i]!, recordSeen[i]!, initialLoad[i]!), (work) => runPlannedUnit(ctx, step, step.units[i]!, work, undefined, ready)),
      (r) => r.status === "done" || r.status === "done before",
      ctx.control.stop
    )
    // A unit not started (it waited on one that stopped) is left out, as the sweep expects.
    return yield* mirrorDeletions(ctx, step, ran.filter((r): r is UnitReport => r !== undefined))
  })

/**
 * After a graph step's complete pass, removes the step's scope from what its mirrored
 * units' sources no longer yield; returns the reports with the deletions counted.
 */
export const mirrorDeletions = (ctx: RunContext, step: GraphStep, passed: ReadonlyArray<UnitReport>) =>
  Effect.gen(function*() {
    const graph = graphOf(yield* Connectors, step.connection)
    const reports = [...passed]
    const mirrored = step.units.filter((u) => u.mirror)
    if (mirrored.length === 0 || reports.some((r) => r.status === "stopped") || reports.length < step.units.length) return reports
    if (ctx.plan.partial) {
      ctx.notes.push(`${step.name}: nothing removed for on_missing: delete, because --only runs part of the pipeline`)
      return reports
    }
    // Relationships first: a node is deleted only once nothing connects to it. One sweep per
    // sweep group (the last mirroring unit of the group reports it): it removes what none of the
    // group's units read.
    const swept = new Set<GraphUnit>()
    for (const u of [...mirrored].reverse()) {
      if (swept.has(u)) continue
      const peers = sweepPeers(step.units, u)
      for (const p of peers) swept.add(p)
      const i = step.units.indexOf(u)
      const before = reports[i]!
      const retried = yield* Ref.make(0)
      const onRetry = Ref.update(retried, (n) => n + 1)
      const result = yield* withRetry(sweep(u, peers, step.scope, graph, ctx.ledger, ctx.run.runId, step.retry, onRetry), step.retry, () => onRetry).pipe(
        Effect.mapError(toStepError({ step: step.name, unit: u.unit, source: u.source.keyset.name, keyRange: null })),
        Effect.withSpan("polymath.sweep", { attributes: { "polymath.unit": u.unit } }),
        Effect.annotateLogs({ unit: u.unit })
      )
      yield* rowsTotal({ pipeline: ctx.plan.pipeline, step: step.name, unit: u.unit }, "deleted", result.deleted)
      const counts = { read: before.read, created: before.created, updated: before.updated, unchanged: before.unchanged, rejected: before.rejected, combined: before.combined, deleted: before.deleted + result.deleted, retried: before.retried + (yield* Ref.get(retried)) }
      yield* withRetry(ctx.ledger.checkpoint(ctx.run.runId, { unit: u.unit, lastKey: null, done: true, counts }), step.retry, () => Effect.void).pipe(
        Effect.mapError(toStepError({ step: step.name, unit: u.unit, source: u.source.keyset.name, keyRange: null }))
      )
      reports[i] = { ...before, ...counts }
      yield* Effect.flatMap(RunEvents, (events) => events.unitEnded(reports[i]!))
      if (result.unscoped > 0) {
        const what = result.unscoped === 1 ? "entity its source no longer yields lost" : "entities its source no longer yields lost"
        ctx.notes.push(`${u.unit}: ${result.unscoped} ${what} scope ${String(step.scope.value)} but ${result.unscoped === 1 ? "is" : "are"} kept (another scope holds ${result.unscoped === 1 ? "it" : "them"}, or a node still has relationships)`)
      }
    }
    return reports
  })

