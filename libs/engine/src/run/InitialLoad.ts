import { Effect } from "effect"
import type { ConnectorFailure } from "../ConnectorError.ts"
import type { GraphConnector } from "../GraphConnector.ts"
import type { GraphUnit, Plan } from "../Plan.ts"
import { decisionConcurrency } from "./Mirror.ts"

/** The relationship units of every graph step of the plan. */
const relationshipUnits = (plan: Plan): ReadonlyArray<GraphUnit> =>
  plan.steps.flatMap((s) => (s.kind === "graph" ? s.units.filter((u) => u.write.kind === "relationships") : []))

const typeOf = (unit: GraphUnit): string | null => (unit.write.kind === "relationships" ? unit.write.type : null)

/**
 * For each unit of a graph step, whether its pass is an initial load: its relationships may be
 * CREATEd instead of MERGEd (`GraphWriteOptions.initialLoad`), which saves Neo4j about a tenth of
 * the work of a first sync's relationships. Only a relationship unit, and only when no relationship
 * written in this pass can exist already:
 *
 * - the graph holds no relationship of its type when the step begins, before any unit writes;
 * - no other unit of the run writes the type (two mappings could yield one relationship);
 * - the pass starts afresh (`fresh`: no checkpoint in this run). A resumed pass MERGEs: the batch
 *   the failed attempt committed last may have no checkpoint. A first attempt that committed some
 *   batches but no checkpoint leaves relationships of the type, so its resume MERGEs too.
 *
 * Within a pass every relationship comes from one row: a source key is unique (pages fail on a
 * repeated one) and either part of the identity, or the source is folded by identity. The connector
 * CREATEs only between endpoints whose keys it made unique, and checks each batch against writers
 * outside the run (another version's run started at the same moment, say): it counts the type after
 * creating, and a count other than what this load created rolls the batch back to a MERGE and ends
 * the load (`GraphWork.ts`), as does any failed attempt.
 */
export const initialLoadDecisions = (
  plan: Plan,
  units: ReadonlyArray<GraphUnit>,
  graph: GraphConnector,
  fresh: (unit: GraphUnit) => boolean
): Effect.Effect<ReadonlyArray<boolean>, ConnectorFailure> =>
  Effect.gen(function*() {
    const writers = new Map<string, number>()
    for (const u of relationshipUnits(plan)) writers.set(typeOf(u)!, (writers.get(typeOf(u)!) ?? 0) + 1)
    // The type each unit would load, when the rules above allow it; the graph is asked once per type.
    const candidates = units.map((unit) => {
      const type = typeOf(unit)
      return type === null || writers.get(type) !== 1 || !fresh(unit) ? null : type
    })
    const types = [...new Set(candidates.filter((t): t is string => t !== null))]
    const held = yield* Effect.forEach(types, (type) => graph.holdsRelationships(type), { concurrency: decisionConcurrency })
    const empty = new Map(types.map((type, i) => [type, !held[i]!] as const))
    return candidates.map((type) => type !== null && empty.get(type)!)
  })
