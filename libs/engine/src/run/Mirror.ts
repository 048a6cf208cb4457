import { Effect, Stream } from "effect"
import type { ConnectorFailure } from "../ConnectorError.ts"
import type { GraphConnector, SyncScope } from "../GraphConnector.ts"
import { identityHash } from "../Identity.ts"
import type { GraphUnit } from "../Plan.ts"
import { withRetry } from "../Retry.ts"
import type { RetryPolicy } from "../Retry.ts"
import type { RunLedger } from "../RunLedger.ts"

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
    yield* graph.scanScope(unit.write, scope).pipe(
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
