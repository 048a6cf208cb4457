import { Context, Effect } from "effect"
import type { UnitReport } from "./run/Report.ts"

/**
 * What a run tells as it goes, for whoever must report on it even when it fails or is
 * interrupted (the runner's run report): the run's id once the ledger has it, and each
 * unit's report when the unit ends. Nothing by default.
 */
export interface RunObserver {
  readonly started: (runId: string, resumed: boolean) => Effect.Effect<void>
  readonly unitEnded: (unit: UnitReport) => Effect.Effect<void>
}

export const RunEvents = Context.Reference<RunObserver>("@polymath/engine/RunEvents", {
  defaultValue: () => ({ started: () => Effect.void, unitEnded: () => Effect.void })
})
