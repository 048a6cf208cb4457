import type { RejectedRow, UnitCounts } from "../RunLedger.ts"

/**
 * How a unit ended: `done`, `done before` (a resumed run found it finished), `stopped`
 * (another step failed; it finished its batch and checkpointed), `failed`, or `not run`
 * (a step it comes after did not succeed).
 */
export type UnitStatus = "done" | "done before" | "stopped" | "failed" | "not run"

/** Counters and timing of one unit, as shown in the summary. */
export interface UnitReport extends UnitCounts {
  readonly step: string
  readonly unit: string
  readonly source: string
  /** Rows the source holds now (dry run: what a run would read). */
  readonly total: number | null
  readonly millis: number
  readonly status: UnitStatus
  /** This run's retries of transient failures, by reason (`ConnectionLost`: 2); a resumed run counts its own. */
  readonly retryReasons: Readonly<Record<string, number>>
}

/** What a dry run found about one unit's source, besides its size. */
export interface UnitForecast {
  readonly unit: string
  /** Rows left out of paging because a key column is NULL. */
  readonly nullKeys: number
  /** Key values that occur more than once (a run would stop there), up to a few. */
  readonly duplicateKeys: ReadonlyArray<string>
  /** Rows folded into another with the same identity. */
  readonly combined: number
  /** Embed units: how many rows are new, changed, up to date, or have no target row. */
  readonly embed: { readonly new: number; readonly stale: number; readonly fresh: number; readonly missing: number; readonly invalid: number } | null
  /** Incremental sources: the lower bound the run would read from. */
  readonly cursorFrom: string | null
  /** Embed units declaring a vector index: what a run would do about it. */
  readonly index: string | null
}

/** The outcome of executing a plan. */
export interface RunReport {
  readonly runId: string | null
  readonly resumed: boolean
  /** Why an unfinished run with the same identity was not continued, when there was one. */
  readonly notResumed: string | null
  readonly dryRun: boolean
  readonly units: ReadonlyArray<UnitReport>
  readonly forecasts: ReadonlyArray<UnitForecast>
  /** Rows the run rejected (on_error: skip): their total and the first few. */
  readonly rejected: { readonly count: number; readonly rows: ReadonlyArray<RejectedRow> }
  /** Things the user should know, e.g. that mirroring was skipped and why. */
  readonly notes: ReadonlyArray<string>
  /** Execution provider per embed model, e.g. { "bge-m3": "cuda" }. */
  readonly providers: Readonly<Record<string, string>>
  readonly millis: number
}
