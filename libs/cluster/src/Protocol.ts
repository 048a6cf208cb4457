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

/** One key range of one unit, run by whichever worker holds its shard. */
export const RangeWorkflow = Workflow.make("polymath/Range", {
  payload: {
    /** The run workflow's execution: a new submission never reuses an older one's result. */
    parent: Schema.String,
    request: PipelineRequest,
    runId: Schema.String,
    unit: Schema.String,
    /** JSON of the engine's `KeyRange`. */
    range: Schema.String,
    checkpoint: Schema.String
  },
  // JSON of the range's `UnitReport` and the providers its model ran on.
  success: Schema.String,
  error: DistributedRunError,
  idempotencyKey: (p) => `${p.parent}/${p.checkpoint}`
})
