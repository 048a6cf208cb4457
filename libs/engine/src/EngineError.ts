import { Data } from "effect"
import { BadData } from "./FailureReason.ts"
import type { FailureReason } from "./FailureReason.ts"

/** Where in a run a failure happened: enough to find the batch again. */
export interface FailureContext {
  readonly step: string
  readonly unit: string
  readonly source: string
  /** First and last key of the batch that failed, when known. */
  readonly keyRange: string | null
}

/** A step failed: a connector error that was not retryable or kept failing after retries. */
export class StepError extends Data.TaggedError("StepError")<{
  readonly context: FailureContext
  /** The connector's classified reason (its `isRetryable` said whether retries were tried). */
  readonly reason: FailureReason
  readonly detail: string
  /** What the user can do about it, e.g. how to start over. */
  readonly hint?: string
}> {
  get isRetryable(): boolean {
    return this.reason.isRetryable
  }
  override get message(): string {
    const c = this.context
    return `step ${c.step} (${c.unit}, source ${c.source}${c.keyRange ? `, keys ${c.keyRange}` : ""}): ${this.detail}`
  }
}

/** Source data the pipeline cannot write: names the offending rows' keys. */
export class DataError extends Data.TaggedError("DataError")<{
  readonly context: FailureContext
  readonly detail: string
  readonly hint?: string
}> {
  readonly isRetryable = false
  readonly reason: FailureReason = new BadData({})
  override get message(): string {
    const c = this.context
    return `step ${c.step} (${c.unit === c.step ? "" : `${c.unit}, `}source ${c.source}${c.keyRange ? `, keys ${c.keyRange}` : ""}): ${this.detail}`
  }
}

/** The pipeline does not fit the databases or models it names (found after connecting, before writing). */
export class PlanError extends Data.TaggedError("PlanError")<{
  readonly problems: ReadonlyArray<string>
}> {
  override get message(): string {
    return this.problems.join("\n")
  }
}

/** A unit stopped between batches because another step failed; internal, never reaches the user. */
export class Stopped extends Data.TaggedError("Stopped")<Record<never, never>> {}

/** Adds a hint to a run failure, after any it has (other failures pass unchanged). */
export const withHint = <E>(e: E, hint: string): E => {
  const joined = (before: string | undefined) => (before === undefined ? hint : `${before}\n${hint}`)
  if (e instanceof StepError) return new StepError({ context: e.context, reason: e.reason, detail: e.detail, hint: joined(e.hint) }) as E
  if (e instanceof DataError) return new DataError({ context: e.context, detail: e.detail, hint: joined(e.hint) }) as E
  return e
}
