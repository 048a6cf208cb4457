import { Cause, Context, Duration, Effect, Layer, RcMap } from "effect"
import type { Scope } from "effect"
import { Embedders } from "@polymath/engine"
import type { Connectors, Plan } from "@polymath/engine"
import { PipelineHost } from "./PipelineHost.ts"
import type { OpenPipeline } from "./PipelineHost.ts"
import { DistributedRunError } from "./Protocol.ts"
import type { PipelineRequest } from "./Protocol.ts"

/**
 * The pipelines a worker has open, shared by the ranges it runs: loading a file, opening
 * its pools and loading a model cost seconds, a range may take less. A worker keeps what
 * it opened until it stops: with entries released a minute after their last use, workers
 * stalled for good once an entry expired while ranges queued behind the worker's slots
 * (seen twice in `bench cluster`, pools closed and no range running).
 */
export class Pipelines extends Context.Service<Pipelines, {
  /** Runs `f` with the request's plan and stores; a failure becomes the run's error, as the CLI would word it. */
  readonly use: <A>(request: PipelineRequest, f: (plan: Plan) => Effect.Effect<A, unknown, PipelineServices>) => Effect.Effect<A, DistributedRunError>
}>()("@polymath/cluster/Pipelines") {}

/** What work on an open pipeline may use. */
export type PipelineServices = Connectors | Embedders | Scope.Scope

const idle = Duration.infinity

/** Wraps the host's embedders so a model loads once per worker, not once per range. */
const cachingEmbedders = (open: OpenPipeline) =>
  Effect.gen(function*() {
    const factory = Context.get(open.services, Embedders)
    const models = yield* RcMap.make({ lookup: (name: string) => factory.load(name), idleTimeToLive: idle })
    return Context.add(open.services, Embedders, { ...factory, load: (name) => RcMap.get(models, name) })
  })

export const layer = Layer.effect(Pipelines)(
  Effect.gen(function*() {
    const host = yield* PipelineHost
    const opened = yield* RcMap.make({
      lookup: (key: string) =>
        Effect.gen(function*() {
          const open = yield* host.open(JSON.parse(key) as PipelineRequest)
          return { plan: open.plan, services: yield* cachingEmbedders(open) }
        }),
      idleTimeToLive: idle
    })
    const toError = (e: unknown) => {
      if (e instanceof DistributedRunError) return e
      const text = host.describe(e)
      return new DistributedRunError({ message: text.message, invalid: text.invalid })
    }
    return {
      use: (request, f) =>
        Effect.scoped(Effect.gen(function*() {
          const open = yield* RcMap.get(opened, JSON.stringify(request))
          if (open.plan.specHash !== request.specHash) {
            return yield* new DistributedRunError({
              message: `${request.pipeline} on this worker is not the file the run was submitted with (its plan differs); every worker must have the same pipeline file`,
              invalid: true
            })
          }
          return yield* f(open.plan).pipe(Effect.provide(open.services))
        })).pipe(
          // Interruption stays interruption (the engine retries the work elsewhere); defects become the run's error too.
          Effect.catchCause((cause) => (Cause.hasInterruptsOnly(cause) ? Effect.failCause(cause as Cause.Cause<never>) : Effect.fail(toError(Cause.squash(cause)))))
        )
    }
  })
)
