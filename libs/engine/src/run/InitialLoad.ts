import { Effect } from "effect"
import type { ConnectorFailure } from "../ConnectorError.ts"
import type { GraphConnector } from "../GraphConnector.ts"
import type { GraphUnit, Plan } from "../Plan.ts"

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
    const empty = new Map<string, boolean>()
    const decisions: Array<boolean> = []
    for (const unit of units) {
      const type = typeOf(unit)
      if (type === null || writers.get(type) !== 1 || !fresh(unit)) {
        decisions.push(false)
        continue
      }
      if (!empty.has(type)) empty.set(type, !(yield* graph.holdsRelationships(type)))
      decisions.push(empty.get(type)!)
    }
    return decisions
  })
