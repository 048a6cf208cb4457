/** The interpreter, one concept per module under run/. */
export { execute, runIdentity } from "./run/Execute.ts"
export type { ExecuteOptions, RunError } from "./run/Execute.ts"
export { preflight } from "./run/Preflight.ts"
export type { RunReport, UnitForecast, UnitReport, UnitStatus } from "./run/Report.ts"
export { claimRange, closeRun, closeStep, closeUnit, openRun, prepareStep, runRange, splitUnit } from "./run/Distributed.ts"
export type { KeyRange, OpenedRun } from "./run/Distributed.ts"
