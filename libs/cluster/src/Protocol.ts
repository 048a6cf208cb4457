import { Schema } from "effect"
import { Workflow } from "effect/workflow"

/**
 * What a distributed run is asked to do. Every worker loads the pipeline file itself
 * (its own environment resolves `${env.*}`, so no secret travels through the cluster's
 * storage) and refuses the work when its file compiles to another plan than the
 * submitter's.
 */
export const PipelineRequest = Schema.Struct({
  /** The pipeline file's absolute path, the same on every worker. */
  pipeline: Schema.String,
  set: Schema.Array(Schema.String),
  only: Schema.Array(Schema.String),
  force: Schema.Boolean,
  /** The plan's hash as the submitter compiled it. */
  specHash: Schema.String
})
export type PipelineRequest = typeof PipelineRequest.Type

/** Why a distributed run (or one range of it) failed, as the submitter shows it. */
export class DistributedRunError extends Schema.TaggedError<DistributedRunError>()("DistributedRunError", {
  message: Schema.String,
  /** The pipeline itself is wrong (exit 2 rather than 1). */
  invalid: Schema.Boolean
}) {}

/** A run of one pipeline file across the cluster's workers. */
export const RunWorkflow = Workflow.make("polymath/Run", {
  payload: {
    /** Chosen by the submitter: one submission, one execution (re-submitting starts another). */
    submission: Schema.String,
    request: PipelineRequest,
    resume: Schema.Boolean,
    /** Ranges each unit's source is cut into. */
    ranges: Schema.Int
  },
  // JSON of `RunOutcome`: the run report as a local run's, and the request, so `follow` can render it.
  success: Schema.String,
  error: DistributedRunError,
  idempotencyKey: (p) => p.submission
})

/**
 * One of a unit's range runners ("claimants"), placed on whichever worker holds its shard. It
 * claims the unit's ranges one at a time, each when its worker has a free slot, until none is
 * left: a faster or less loaded worker claims more, where placing each range by hash left one
 * worker with twice the other's share (11/21 of 32 ranges in `bench cluster`).
 */
export const RangeWorkflow = Workflow.make("polymath/Range", {
  payload: {
    /** The run workflow's execution: a new submission never reuses an older one's claims or result. */
    parent: Schema.String,
    request: PipelineRequest,
    runId: Schema.String,
    unit: Schema.String,
    /** JSON of the unit's `KeyRange`s, as split once by the coordinator. */
    ranges: Schema.String,
    /** Which of the unit's claimants this is. */
    claimant: Schema.Int
  },
  // JSON of `ClaimantResult`: what each range it claimed ended with.
  success: Schema.String,
  error: DistributedRunError,
  idempotencyKey: (p) => `${p.parent}/${p.unit}/${p.claimant}`
})
