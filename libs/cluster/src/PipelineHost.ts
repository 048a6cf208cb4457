import { Context } from "effect"
import type { Effect, Scope } from "effect"
import type { Connectors, Embedders, Plan } from "@polymath/engine"
import type { PipelineRequest } from "./Protocol.ts"

/** A pipeline as a worker runs it: its plan and its open stores. */
export interface OpenPipeline {
  readonly plan: Plan
  readonly services: Context.Context<Connectors | Embedders>
}

/** A failure as the user reads it, and whether the pipeline itself is at fault. */
export interface FailureText {
  readonly message: string
  readonly invalid: boolean
}

/**
 * How a worker turns a request into a plan and open connections (the runner app loads
 * and lints the file, reads the model registry and opens the stores as a local run
 * does; the scope closes them), and how a failure reads, as the CLI would print it.
 */
export class PipelineHost extends Context.Service<PipelineHost, {
  readonly open: (request: PipelineRequest) => Effect.Effect<OpenPipeline, unknown, Scope.Scope>
  readonly describe: (failure: unknown) => FailureText
}>()("@polymath/cluster/PipelineHost") {}
