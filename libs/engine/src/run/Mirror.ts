import { Effect, Stream } from "effect"
import type { ConnectorFailure } from "../ConnectorError.ts"
import type { GraphConnector, SyncScope } from "../GraphConnector.ts"
import { identityHash } from "../Identity.ts"
import type { GraphUnit } from "../Plan.ts"
import { withRetry } from "../Retry.ts"
import type { RetryPolicy } from "../Retry.ts"
import type { RunLedger } from "../RunLedger.ts"

/**
 * The seen set's mark for "no entity of the unit's mapping held the scope when the run
 * began its pass": then whatever holds the scope at the sweep was written by this run from
 * rows it read, so the pass records no identities and the sweep has nothing to remove
 * (the first sync of an extractor version: per-row bookkeeping was about half of what the
 * run cost Postgres). An identity hash is never empty, so the mark cannot be one.
 */
const scopeWasEmpty = new Uint8Array(0)

/** Records that the unit's scope held nothing when this run began the unit's pass. */
export const markScopeWasEmpty = (ledger: RunLedger, runId: string, unit: GraphUnit): Effect.Effect<void, ConnectorFailure> =>
  ledger.markSeen(runId, unit.unit, [scopeWasEmpty])

/** Whether this run recorded that the unit's scope held nothing when its pass began (kept across a resume). */
export const scopeWasEmptyAtStart = (ledger: RunLedger, runId: string, unit: GraphUnit): Effect.Effect<boolean, ConnectorFailure> =>
  Effect.map(ledger.unseen(runId, unit.unit, [scopeWasEmpty]), (missing) => missing.length === 0)

/**
 * Whether a mirroring unit's pass must record the identities it reads: false when this run
 * found its scope empty (at the unit's first pass in this run, recorded then, or found
 * recorded by the run it resumes). `fresh`: the unit has no checkpoint in this run.
 */
export const mustRecordSeen = (unit: GraphUnit, scope: SyncScope, graph: GraphConnector, ledger: RunLedger, runId: string, fresh: boolean): Effect.Effect<boolean, ConnectorFailure> =>
  Effect.gen(function*() {
    if (!unit.mirror) return false
    if (yield* scopeWasEmptyAtStart(ledger, runId, unit)) return false
    if (!fresh || (yield* graph.holdsScope(unit.write, scope))) return true
    yield* markScopeWasEmpty(ledger, runId, unit)
    return false
  })

/** What a sweep removed from one unit's scope. */
export interface SweepResult {
  readonly deleted: number
  readonly unscoped: number
}

/**
 * After a complete pass of a mirroring unit: every entity of the unit's mapping that
 * holds this scope but whose identity the pass did not read loses the scope, and is
 * deleted when no scope holds it any more (a node only once it has no relationships;
 * nodes left unconnected and unscoped by earlier sweeps go too).
 */
export const sweep = (unit: GraphUnit, scope: SyncScope, graph: GraphConnector, ledger: RunLedger, runId: string, policy: RetryPolicy, retried: Effect.Effect<void>): Effect.Effect<SweepResult, ConnectorFailure> =>
  Effect.gen(function*() {
    const retry = <A>(e: Effect.Effect<A, ConnectorFailure>) => withRetry(e, policy, () => retried)
    let deleted = 0
    let unscoped = 0
    // Everything holding the scope was written by this run from rows it read: nothing to unscope.
    const allSeen = yield* retry(scopeWasEmptyAtStart(ledger, runId, unit))
    if (!allSeen) yield* graph.scanScope(unit.write, scope).pipe(
      Stream.runForEach((identities) =>
        Effect.gen(function*() {
          const missing = yield* retry(ledger.unseen(runId, unit.unit, identities.map(identityHash)))
          if (missing.length === 0) return
          const r = yield* retry(graph.unscope(unit.write, scope, missing.map((i) => identities[i]!)))
          deleted += r.deleted
          unscoped += r.unscoped
        })
      )
    )
    if (unit.write.kind === "nodes") deleted += yield* retry(graph.deleteOrphans(unit.write, scope))
    return { deleted, unscoped }
  })
