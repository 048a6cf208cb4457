import { Effect } from "effect"
import type { ConnectorFailure } from "../ConnectorError.ts"
import { Connectors } from "../Connectors.ts"
import type { Plan } from "../Plan.ts"
import type { ResumableRun, StoreFingerprints } from "../RunLedger.ts"
import type { VectorTarget } from "../SqlConnector.ts"
import { graphOf, sqlOf } from "./Support.ts"

/** Fingerprints of every store the plan reads or writes, by connection name. */
export const storeFingerprints = (plan: Plan): Effect.Effect<StoreFingerprints, ConnectorFailure, Connectors> =>
  Effect.gen(function*() {
    const connectors = yield* Connectors
    const targets = new Map<string, Array<VectorTarget>>()
    const sql = new Set<string>([plan.ledgerConnection])
    const graph = new Set<string>()
    for (const step of plan.steps) {
      if (step.kind === "embed") {
        sql.add(step.unit.source.connection)
        targets.set(step.unit.targetConnection, [...(targets.get(step.unit.targetConnection) ?? []), step.unit.target])
      } else {
        graph.add(step.connection)
        for (const u of step.units) sql.add(u.source.connection)
      }
    }
    const out: Record<string, string> = {}
    for (const name of [...sql, ...targets.keys()].sort()) out[name] ??= yield* sqlOf(connectors, name).fingerprint(targets.get(name) ?? [])
    for (const name of [...graph].sort()) out[name] = yield* graphOf(connectors, name).fingerprint
    return out
  })

/**
 * Whether an unfinished run may be continued: only against the very stores its
 * checkpoints were written to, and only while the graph still holds what they say was
 * written (a store emptied by hand keeps its fingerprint). Returns null when it may,
 * else why not.
 */
export const whyNotResume = (plan: Plan, candidate: ResumableRun, stores: StoreFingerprints): Effect.Effect<string | null, ConnectorFailure, Connectors> =>
  Effect.gen(function*() {
    if (candidate.stores === null) return "it was recorded without store fingerprints"
    for (const [name, now] of Object.entries(stores)) {
      const then = candidate.stores[name]
      if (then !== undefined && then !== now) return `connection '${name}' is not the store its checkpoints were written to`
    }
    const connectors = yield* Connectors
    for (const step of plan.steps) {
      if (step.kind !== "graph") continue
      for (const unit of step.units) {
        const cp = candidate.checkpoints.get(unit.unit)
        const written = cp === undefined ? 0 : cp.counts.created + cp.counts.updated + cp.counts.unchanged
        if (written === 0) continue
        const held = yield* graphOf(connectors, step.connection).countInScope(unit.write, step.scope)
        if (held < written) return `the graph holds ${held} of the ${written} entities its checkpoints say ${unit.unit} wrote`
      }
    }
    return null
  })
