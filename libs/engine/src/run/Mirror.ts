import { Effect, Stream } from "effect"
import type { ConnectorFailure } from "../ConnectorError.ts"
import type { GraphConnector, SyncScope } from "../GraphConnector.ts"
import { identityHash } from "../Identity.ts"
import type { GraphUnit } from "../Plan.ts"
import { withRetry } from "../Retry.ts"
import type { RetryPolicy } from "../Retry.ts"
import type { RunLedger } from "../RunLedger.ts"

/**
 * The units of a step whose entities one sweep looks at: a node label, or a relationship type
 * between two labels. A sweep removes what none of them read, so two mappings of one label
 * (two sources of Concept nodes, say) never take each other's entities for gone.
 */
const sweepGroup = (unit: GraphUnit): string =>
  unit.write.kind === "nodes" ? JSON.stringify(["nodes", unit.write.label]) : JSON.stringify(["relationships", unit.write.type, unit.write.start.label, unit.write.end.label])

/** The units of `units` in `unit`'s sweep group (itself included), in order. */
export const sweepPeers = (units: ReadonlyArray<GraphUnit>, unit: GraphUnit): ReadonlyArray<GraphUnit> =>
  units.filter((u) => sweepGroup(u) === sweepGroup(unit))

/** Whether a unit must record what it reads: some unit of its sweep group mirrors. */
export const groupMirrors = (units: ReadonlyArray<GraphUnit>, unit: GraphUnit): boolean => sweepPeers(units, unit).some((u) => u.mirror)

/**
 * The seen set's mark for "nothing of the unit's sweep group held the scope when the run
 * began its pass": then whatever holds the scope at the sweep was written by this run from
 * rows it read, so the pass records no identities and the sweep has nothing to remove
 * (the first sync of an extractor version: per-row bookkeeping was about half of what the
 * run cost Postgres). An identity hash is never empty, so the mark cannot be one.
 */
const scopeWasEmpty = new Uint8Array(0)

const markScopeWasEmpty = (ledger: RunLedger, runId: string, unit: GraphUnit): Effect.Effect<void, ConnectorFailure> =>
  ledger.markSeen(runId, unit.unit, [scopeWasEmpty])

const scopeWasEmptyAtStart = (ledger: RunLedger, runId: string, unit: GraphUnit): Effect.Effect<boolean, ConnectorFailure> =>
  Effect.map(ledger.unseen(runId, [unit.unit], [scopeWasEmpty]), (missing) => missing.length === 0)

const allMarked = (ledger: RunLedger, runId: string, group: ReadonlyArray<GraphUnit>): Effect.Effect<boolean, ConnectorFailure> =>
  Effect.map(Effect.forEach(group, (u) => scopeWasEmptyAtStart(ledger, runId, u), { concurrency: decisionConcurrency }), (marks) => marks.every((m) => m))

/**
 * Queries a step's start-up decisions run at once: each is a round trip or two, and one after the
 * other they were a quarter of a second of a first sync's set-up (the graph's query plans are new
 * after its constraints were made). Bounded, as a pipeline may map dozens of labels.
 */
export const decisionConcurrency = 8

/**
 * For each unit of a graph step, whether its pass records the identities it reads. Decided per
 * sweep group, before any unit writes, so a group's units always decide alike: not when no unit
 * of the group mirrors; not when every unit of the group carries the mark (a resumed run keeps
 * its first attempt's decision); not when every unit starts its pass afresh (`fresh`: no
 * checkpoint in this run) and nothing of the group holds the scope, which marks them all;
 * otherwise yes.
 */
export const seenDecisions = (
  units: ReadonlyArray<GraphUnit>,
  scope: SyncScope,
  graph: GraphConnector,
  ledger: RunLedger,
  runId: string,
  fresh: (unit: GraphUnit) => boolean
): Effect.Effect<ReadonlyArray<boolean>, ConnectorFailure> =>
  Effect.gen(function*() {
    // Each group once, asked about through its first unit; the groups are independent of each other.
    const groups = new Map<string, GraphUnit>()
    for (const unit of units) if (!groups.has(sweepGroup(unit))) groups.set(sweepGroup(unit), unit)
    const decide = (unit: GraphUnit): Effect.Effect<boolean, ConnectorFailure> =>
      Effect.gen(function*() {
        const group = sweepPeers(units, unit)
        if (!group.some((u) => u.mirror) || (yield* allMarked(ledger, runId, group))) return false
        if (group.every(fresh) && !(yield* graph.holdsScope(unit.write, scope))) {
          yield* Effect.forEach(group, (u) => markScopeWasEmpty(ledger, runId, u), { concurrency: decisionConcurrency, discard: true })
          return false
        }
        return true
      })
    const decisions = yield* Effect.forEach([...groups], ([key, unit]) => Effect.map(decide(unit), (d) => [key, d] as const), { concurrency: decisionConcurrency })
    const decided = new Map(decisions)
    return units.map((u) => decided.get(sweepGroup(u))!)
  })

/** What a sweep removed from one unit's scope. */
export interface SweepResult {
  readonly deleted: number
  readonly unscoped: number
}

/**
 * After a complete pass of a mirroring unit: every entity of the unit's mapping that
 * holds this scope but whose identity no unit of its sweep group (`peers`) read loses the scope, and is
 * deleted when no scope holds it any more (a node only once it has no relationships;
 * nodes left unconnected and unscoped by earlier sweeps go too).
 */
export const sweep = (
  unit: GraphUnit,
  peers: ReadonlyArray<GraphUnit>,
  scope: SyncScope,
  graph: GraphConnector,
  ledger: RunLedger,
  runId: string,
  policy: RetryPolicy,
  retried: Effect.Effect<void>
): Effect.Effect<SweepResult, ConnectorFailure> =>
  Effect.gen(function*() {
    const retry = <A>(e: Effect.Effect<A, ConnectorFailure>) => withRetry(e, policy, () => retried)
    let deleted = 0
    let unscoped = 0
    // Everything holding the scope was written by this run from rows it read: nothing to unscope.
    const allSeen = yield* retry(allMarked(ledger, runId, peers))
    const names = peers.map((u) => u.unit)
    if (!allSeen) yield* graph.scanScope(unit.write, scope).pipe(
      Stream.runForEach((identities) =>
        Effect.gen(function*() {
          const missing = yield* retry(ledger.unseen(runId, names, identities.map(identityHash)))
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
