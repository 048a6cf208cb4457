import { Clock, Effect, Stream } from "effect"
import type { ConnectorFailure } from "../ConnectorError.ts"
import { Connectors } from "../Connectors.ts"
import type { DataError, StepError } from "../EngineError.ts"
import type { Plan, PlannedStep, PlannedUnit } from "../Plan.ts"
import { formatKey } from "../Rows.ts"
import { zeroCounts } from "../RunLedger.ts"
import type { RunIdentity } from "../RunLedger.ts"
import type { SourceCursor } from "../SqlConnector.ts"
import { classify } from "./EmbedWork.ts"
import type { UnitForecast, UnitReport } from "./Report.ts"
import { sqlOf, toStepError } from "./Support.ts"

/**
 * What a run would read and do, per unit, writing nothing (not even the ledger schema):
 * row counts, rows with NULL keys, duplicate keys, folded rows, the incremental window,
 * and for embed steps how many rows are new, changed or up to date.
 */
export const dryRun = (plan: Plan, identity: RunIdentity): Effect.Effect<{ readonly units: ReadonlyArray<UnitReport>; readonly forecasts: ReadonlyArray<UnitForecast> }, StepError | DataError, Connectors> =>
  Effect.gen(function*() {
    const connectors = yield* Connectors
    const ledger = sqlOf(connectors, plan.ledgerConnection).ledger
    const units: Array<UnitReport> = []
    const forecasts: Array<UnitForecast> = []
    const forecast = (step: PlannedStep, u: PlannedUnit) =>
      Effect.gen(function*() {
        const started = yield* Clock.currentTimeMillis
        const sql = sqlOf(connectors, u.source.connection)
        const raw = u.kind === "embed" ? u.source : u.rawSource
        let cursor: SourceCursor | null = null
        if (raw.incremental !== null) {
          const from = (yield* ledger.lastCursor(identity, raw.keyset.name, raw.queryHash)) ?? raw.incremental.initial
          cursor = { column: raw.incremental.column, from }
        }
        const source = { ...u.source.keyset, cursor }
        const total = yield* sql.count(source)
        const nulls = yield* sql.nullKeys(source, 0)
        const duplicates = u.kind !== "embed" && u.folded ? [] : yield* sql.duplicateKeys(source, 3)
        const combined = u.kind !== "embed" && u.folded ? (yield* sql.count({ ...u.rawSource.keyset, cursor })) - total : 0
        let embed: UnitForecast["embed"] = null
        let index: string | null = null
        if (u.kind === "embed" && u.target.index !== undefined) {
          const i = u.target.index
          const state = yield* sqlOf(connectors, u.targetConnection).vectorIndex(u.target)
          const what = `${i.method} index ${state.name} (${i.metric})`
          index = state.state === "valid" ? `${what} exists`
            : state.state === "missing" ? `${what} would be built after the vectors are written`
            : state.state === "invalid" ? `${what} is invalid (a build died) and would be rebuilt`
            : `an index named ${state.name} has another definition: the run would fail; drop it first`
        }
        // A source with duplicate keys cannot be paged; the forecast says so instead.
        if (u.kind === "embed" && duplicates.length === 0) {
          const target = sqlOf(connectors, u.targetConnection)
          const tally = { new: 0, stale: 0, fresh: 0, missing: 0, invalid: 0 }
          yield* sql.pages(source, null).pipe(
            Stream.runForEach((page) =>
              Effect.map(classify(u, target, page.rows, step.retry, Effect.void), ({ bad, todo, unchanged }) => {
                tally.fresh += unchanged
                for (const t of todo) tally[t.status === "new" ? "new" : "stale"]++
                for (const b of bad) tally[b.reason.startsWith("no row in") ? "missing" : "invalid"]++
              })
            )
          )
          embed = tally
        }
        const now = yield* Clock.currentTimeMillis
        units.push({ step: step.name, unit: u.unit, source: source.name, total, millis: now - started, status: "not run", ...zeroCounts, retryReasons: {} })
        forecasts.push({ unit: u.unit, nullKeys: nulls.count, duplicateKeys: duplicates.map((d) => `${formatKey(d.key)} (${d.count} rows)`), combined, embed, cursorFrom: cursor?.from ?? null, index })
      }).pipe(Effect.mapError((e: ConnectorFailure) => toStepError({ step: step.name, unit: u.unit, source: u.source.keyset.name, keyRange: null })(e)))
    for (const step of plan.steps) {
      for (const u of step.kind === "embed" ? [step.unit] : step.units) yield* forecast(step, u)
    }
    return { units, forecasts }
  })
