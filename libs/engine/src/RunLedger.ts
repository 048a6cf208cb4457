import type { Effect, Scope } from "effect"
import type { ConnectorFailure } from "./ConnectorError.ts"
import type { KeyTuple } from "./Rows.ts"

/** Per-unit counters, kept in the ledger so a resumed run reports totals. */
export interface UnitCounts {
  readonly read: number
  readonly written: number
  readonly skipped: number
  readonly retried: number
}

/** The progress of one unit of work (a step's pass over one source), as last committed. */
export interface UnitCheckpoint {
  readonly unit: string
  readonly lastKey: KeyTuple | null
  readonly done: boolean
  readonly counts: UnitCounts
}

/** What identifies a run: a resumed run must match all of it. */
export interface RunIdentity {
  readonly pipeline: string
  readonly specHash: string
  readonly params: Readonly<Record<string, string>>
  readonly model: string | null
}

/** A started (or resumed) run. */
export interface RunHandle {
  readonly runId: string
  /** True when an unfinished earlier run with the same identity is being continued. */
  readonly resumed: boolean
  readonly checkpoints: ReadonlyMap<string, UnitCheckpoint>
}

/** Final status of a run. */
export type RunStatus = "succeeded" | "failed" | "interrupted"

/**
 * The run ledger: one row per run and per unit, so that a run that died is continued
 * from its checkpoints by the next invocation with the same identity.
 */
export interface RunLedger {
  /**
   * Starts a run, or resumes the latest unfinished one with the same identity when
   * `resume` is true. Holds an exclusive lock on the pipeline for the scope's lifetime
   * so two runs of one pipeline never interleave; fails with reason "RunInProgress"
   * when another process holds it.
   */
  readonly begin: (identity: RunIdentity, options: { readonly resume: boolean }) => Effect.Effect<RunHandle, ConnectorFailure, Scope.Scope>
  /** Records a unit's progress after a batch is durably written. */
  readonly checkpoint: (runId: string, checkpoint: UnitCheckpoint) => Effect.Effect<void, ConnectorFailure>
  /** Marks the run finished. */
  readonly finish: (runId: string, status: RunStatus, error: string | null) => Effect.Effect<void, ConnectorFailure>
}
