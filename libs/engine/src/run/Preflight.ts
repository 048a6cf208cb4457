import { Effect } from "effect"
import type { ConnectorFailure } from "../ConnectorError.ts"
import { Connectors, Embedders } from "../Connectors.ts"
import { PlanError } from "../EngineError.ts"
import type { DataError, StepError } from "../EngineError.ts"
import { unitsOf } from "../Plan.ts"
import type { Plan, PlannedUnit } from "../Plan.ts"
import { defaultRetry, withRetry } from "../Retry.ts"
import type { RetryPolicy } from "../Retry.ts"
import type { SourceCursor } from "../SqlConnector.ts"
import { effectiveSource } from "./Cursors.ts"
import { badRowsError, sqlOf, toStepError } from "./Support.ts"

const what = (u: PlannedUnit, column: string): string => {
  if (u.kind === "embed") return column === u.textColumn ? "the text to embed" : column === u.idColumn ? "the id to match" : "a key or cursor"
  return u.identity.includes(column) ? `identity of ${u.unit}` : `used by ${u.unit}`
}

/**
 * Asks a store something, retrying transient failures. What still fails transiently is
 * the run's failure (the store is unreachable), not a problem of the pipeline; any other
 * failure is returned to be listed as one.
 */
const ask = <A>(effect: Effect.Effect<A, ConnectorFailure>, policy: RetryPolicy) =>
  withRetry(effect, policy, () => Effect.void).pipe(
    Effect.result,
    Effect.flatMap((r) => (r._tag === "Failure" && r.failure.isRetryable ? Effect.fail(r.failure) : Effect.succeed(r)))
  )

/**
 * Checks what can only be checked against the live systems, before anything is written:
 * models exist, vector columns exist and have the model's dimension, and every source
 * returns the columns its key, cursor and every step reading it name (a zero-row run of
 * its query), so a missing column fails the run here, not after other steps have written.
 */
export const preflight = (plan: Plan) =>
  Effect.gen(function*() {
    const connectors = yield* Connectors
    const embedders = yield* Embedders
    const problems: Array<string> = []
    for (const step of plan.steps) {
      if (step.kind !== "embed") continue
      const u = step.unit
      const model = yield* ask(embedders.describe(u.model), step.retry)
      const target = yield* ask(sqlOf(connectors, u.targetConnection).describeVectorTarget(u.target), step.retry)
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
    const described = new Map<string, ReadonlyArray<string> | string>()
    for (const u of unitsOf(plan)) {
      const source = u.kind === "embed" ? u.source : u.rawSource
      const name = source.keyset.name
      if (!described.has(name)) {
        const d = yield* ask(sqlOf(connectors, source.connection).describe(source.keyset.statement), plan.steps.find((s) => s.name === u.step)?.retry ?? defaultRetry)
        described.set(name, d._tag === "Success" ? d.success.columns : d.failure.message)
        if (d._tag === "Failure") problems.push(`source ${name}: ${d.failure.message}`)
      }
      const columns = described.get(name)!
      if (typeof columns === "string") continue
      const missing = u.columns.filter((c) => !columns.includes(c))
      for (const c of missing) problems.push(`source ${name} returns no column '${c}' (${what(u, c)}); it returns: ${columns.join(", ") || "no columns"}`)
    }
    if (problems.length > 0) return yield* Effect.fail(new PlanError({ problems: [...new Set(problems)] }))
  })

/**
 * Under `on_error: fail`, a row whose key is NULL fails the run before anything is
 * written: keyset pages would never reach it. (Under `skip` the unit rejects it.)
 */
export const checkNullKeys = (plan: Plan, windows: ReadonlyMap<string, SourceCursor>): Effect.Effect<void, StepError | DataError, Connectors> =>
  Effect.gen(function*() {
    const connectors = yield* Connectors
    // Units that read one source by the same key share one check.
    const checked = new Set<string>()
    for (const step of plan.steps) {
      if (step.rows.onError !== "fail") continue
      for (const u of step.kind === "embed" ? [step.unit] : step.units) {
        const source = effectiveSource(u.source, windows)
        const id = JSON.stringify([u.source.connection, source.name, source.key, source.cursor, source.fold?.identity ?? null])
        if (checked.has(id)) continue
        checked.add(id)
        const context = { step: step.name, unit: u.unit, source: source.name, keyRange: null }
        const nulls = yield* sqlOf(connectors, u.source.connection).nullKeys(source, 20).pipe(Effect.mapError(toStepError(context)))
        if (nulls.count > 0) {
          const key = [...source.key, ...(source.cursor ? [source.cursor.column] : [])]
          const bad = nulls.rows.map((row) => ({ row, reason: `a NULL in ${key.filter((k) => row[k] === null || row[k] === undefined).join(", ")}` }))
          return yield* Effect.fail(badRowsError(context, key, bad, nulls.count))
        }
      }
    }
  })
