/** The compiled plan: what a pipeline will do, the interpreter's only input. See `plan/`. */
export type {
  EmbedStep,
  EmbedUnit,
  GraphStep,
  GraphUnit,
  Neo4jPlanConnection,
  NodeUnit,
  Plan,
  PlanConnection,
  PlannedBound,
  PlannedCheck,
  PlannedSource,
  PlannedStep,
  PlannedUnit,
  QueryCheck,
  StoreCheck,
  PostgresPlanConnection,
  RelationshipUnit,
  RowPolicy
} from "./plan/Types.ts"
export { compile, onlySteps, unitsOf } from "./plan/Compile.ts"
export { connectionsUsedBy } from "./plan/Connections.ts"
export { defaultScopeProperty } from "./plan/Steps.ts"

/** Re-export so callers need not know where the write shapes live. */
export type { NodeWrite, RelationshipWrite } from "./GraphConnector.ts"
