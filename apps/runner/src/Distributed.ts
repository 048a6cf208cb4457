import { randomUUID } from "node:crypto"
import { Cause, Config, Context, Effect, Layer, Option } from "effect"
import { clientLayer, DistributedRunError, executionKnown, PipelineHost, RunWorkflow, workerLayer } from "@polymath/cluster"
import type { PipelineRequest, RunOutcome } from "@polymath/cluster"
import { resolvePipelinePath } from "@polymath/dsl"
import type { LoadedPipeline } from "@polymath/dsl"
import { Connectors, Embedders, Progress, runIdentity } from "@polymath/engine"
import type { CheckResult, Plan, RunReport } from "@polymath/engine"
import { layerConfig as embeddersFromConfig } from "@polymath/embeddings"
import { clusterStorageLayer } from "@polymath/postgres"
import type { CliArgs } from "./Cli.ts"
import { clusterDefaults } from "./Cli.ts"
import { connectorsLayer } from "./Connections.ts"
import { describeFailure } from "./Failures.ts"
import { ExitCode, load, out, planOf } from "./Pipeline.ts"
import { makeProgressEvents } from "./ProgressRenderer.ts"
import { endRun } from "./RunEnd.ts"

/** The database that holds the cluster's state: POLYMATH_CLUSTER_DSN, else the stack's POSTGRES_DSN. */
const clusterDsn = Config.Redacted("POLYMATH_CLUSTER_DSN").pipe(Config.orElse(() => Config.Redacted("POSTGRES_DSN")))

const storage = Effect.map(clusterDsn, clusterStorageLayer)

/** `host:port`, checked. */
const address = (text: string, what: string) =>
  Effect.gen(function*() {
    const m = /^(.+):(\d{1,5})$/.exec(text)
    const port = m === null ? NaN : Number(m[2])
    if (m === null || !(port > 0 && port < 65536)) return yield* Effect.fail(new DistributedRunError({ message: `${what}: expected host:port, got ${JSON.stringify(text)}`, invalid: true }))
    return { host: m[1]!, port }
  })

const argsOf = (request: PipelineRequest): CliArgs => ({
  command: "run", pipeline: request.pipeline, set: request.set, only: request.only, force: request.force, resume: true, verify: false,
  report: null, logLevel: null, logFormat: null, search: null, trace: null, cluster: null
})

/** How a worker opens a pipeline: as a local run loads, lints and connects it. */
const hostLayer = (debug: boolean) =>
  Layer.succeed(PipelineHost, {
    open: (request) =>
      Effect.gen(function*() {
        const args = argsOf(request)
        const { loaded, factory } = yield* load(args, false)
        const plan = yield* planOf(args, loaded)
        const services = yield* Layer.build(Layer.mergeAll(connectorsLayer(plan), factory === null ? embeddersFromConfig : Layer.succeed(Embedders, factory)))
        // Progress as log lines every few seconds: a worker has no terminal to draw on.
        return { plan, services: Context.add(services, Progress, makeProgressEvents()) as Context.Context<Connectors | Embedders> }
      }),
    describe: (failure) => {
      const d = describeFailure(failure, debug)
      return { message: d.text.replace(/^error: /, ""), invalid: d.code === ExitCode.invalid }
    }
  })

/** A failure of the cluster itself (storage unreachable, a port taken) as one line and exit 1. */
const clusterFailure = (what: string) => <A, R>(self: Effect.Effect<A, unknown, R>) =>
  self.pipe(
    Effect.catchCause((cause) => {
      if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause) as Effect.Effect<never>
      const e = Cause.squash(cause)
      if (e instanceof DistributedRunError) return Effect.logError(`error: ${e.message}`).pipe(Effect.as(e.invalid ? ExitCode.invalid : ExitCode.failed))
      return Effect.logError(`error: ${what}: ${e instanceof Error ? e.message : String(e)}`).pipe(Effect.as(ExitCode.failed))
    })
  )

/** `worker`: joins the cluster and works until stopped. */
export const workerCommand = (args: CliArgs, debug: boolean) =>
  Effect.gen(function*() {
    const c = args.cluster ?? clusterDefaults
    const listen = yield* address(c.listen, "--listen")
    const advertise = c.advertise === null ? listen : yield* address(c.advertise, "--advertise")
    if (!(c.concurrency >= 1)) return yield* new DistributedRunError({ message: `--concurrency must be at least 1, got ${c.concurrency}`, invalid: true })
    const layer = workerLayer({ listen, advertise, concurrency: c.concurrency }, yield* storage).pipe(Layer.provide(hostLayer(debug)))
    yield* Effect.logInfo(`worker listening on ${c.listen} (reached at ${advertise.host}:${advertise.port}), ${c.concurrency} range(s) at a time`)
    return yield* Layer.launch(layer)
  }).pipe(clusterFailure("the worker stopped"))

/** Rows read so far by the ranges of the latest unfinished run of this plan, from the ledger. */
const progressLine = (plan: Plan) =>
  Effect.gen(function*() {
    const ledger = (yield* Connectors).sql.get(plan.ledgerConnection)?.ledger
    const run = ledger === undefined ? null : yield* ledger.resumable(runIdentity(plan))
    if (run === null) return null
    const ranges = [...run.checkpoints.values()].filter((c) => c.unit.includes("#"))
    const read = ranges.reduce((n, c) => n + c.counts.read, 0)
    return `run ${run.runId}: ${ranges.filter((c) => c.done).length} of ${ranges.length} ranges started are done, ${read} rows read`
  }).pipe(Effect.orElseSucceed(() => null))

type Finished = { readonly ok: true; readonly outcome: RunOutcome } | { readonly ok: false; readonly error: DistributedRunError }

/** Waits for a run's workflow to complete, telling `progress` every few seconds when there is one. */
const await_ = (execution: string, progress: Effect.Effect<string | null> | null) =>
  Effect.gen(function*() {
    let last = ""
    let ticks = 0
    while (true) {
      const result = yield* RunWorkflow.poll(execution)
      if (Option.isSome(result) && result.value._tag === "Complete") {
        const exit = result.value.exit
        if (exit._tag === "Success") return { ok: true, outcome: JSON.parse(exit.value) as RunOutcome } satisfies Finished
        const e = Cause.squash(exit.cause)
        return { ok: false, error: e instanceof DistributedRunError ? e : new DistributedRunError({ message: String(e), invalid: false }) } satisfies Finished
      }
      if (progress !== null && ticks % 5 === 0) {
        const line = yield* progress
        if (line !== null && line !== last) yield* Effect.logInfo((last = line))
      }
      // Nothing but waiting for half a minute: most likely no worker is running.
      if (++ticks === 30 && Option.isNone(result) && last === "") {
        yield* Effect.logWarning("no worker has taken the run after 30 s: is one running (`polymath worker`) with the same POLYMATH_CLUSTER_DSN?")
      }
      yield* Effect.sleep("1 second")
    }
  })

/** A failed distributed run: its error, and run's exit code for it. */
const failed = (error: DistributedRunError) => Effect.logError(`error: ${error.message}`).pipe(Effect.as(error.invalid ? ExitCode.invalid : ExitCode.failed))

/** The summary, checks and exit code of a distributed run that ended, as a local run ends (the plan's stores provided). */
const finish = (args: CliArgs, outcome: RunOutcome, plan: Plan, onChecks?: (results: ReadonlyArray<CheckResult>) => void) =>
  endRun(plan, outcome.report as RunReport, { verify: args.verify, partial: outcome.request.only.length > 0 }, onChecks)

/** What `run --report` learns of a distributed run as it goes (see main.ts). */
export interface DistributedRunHooks {
  readonly planned: (loaded: LoadedPipeline, plan: Plan) => void
  readonly ended: (report: RunReport) => void
  readonly checked: (results: ReadonlyArray<CheckResult>) => void
  readonly failed: (message: string) => void
}

const noHooks: DistributedRunHooks = { planned: () => {}, ended: () => {}, checked: () => {}, failed: () => {} }

/** `run --distributed`: submits the run to the cluster and follows it to its end. */
export const distributedRun = (args: CliArgs, hooks: DistributedRunHooks = noHooks) =>
  Effect.gen(function*() {
    // Loaded and compiled here first: a bad file or flag fails as a local run's would, before anything is submitted.
    const { loaded } = yield* load(args, false)
    const plan = yield* planOf(args, loaded)
    hooks.planned(loaded, plan)
    const request: PipelineRequest = { pipeline: resolvePipelinePath(args.pipeline!, "pipelines"), set: args.set, only: args.only, force: args.force, specHash: plan.specHash }
    const ranges = args.cluster?.ranges ?? clusterDefaults.ranges
    if (!(ranges >= 1)) {
      yield* Effect.logError(`error: --ranges must be at least 1, got ${ranges}`)
      return ExitCode.invalid
    }
    return yield* Effect.gen(function*() {
      const execution = yield* RunWorkflow.execute({ submission: randomUUID(), request, resume: args.resume, ranges }, { discard: true })
      yield* Effect.logInfo(`submitted distributed run ${execution}; should this process stop, \`polymath follow ${execution}\` reattaches`)
      // One set of connections for the progress reads and the checks, not one per look.
      const stores = yield* Layer.build(connectorsLayer(plan))
      const finished = yield* await_(execution, progressLine(plan).pipe(Effect.provide(stores)))
      if (!finished.ok) {
        hooks.failed(finished.error.message)
        return yield* failed(finished.error)
      }
      hooks.ended(finished.outcome.report)
      return yield* finish(args, finished.outcome, plan, hooks.checked).pipe(Effect.provide(stores))
    }).pipe(Effect.scoped, Effect.provide(clientLayer(yield* storage)), clusterFailure("the distributed run could not be followed"))
  })

/** `follow`: reattaches to a distributed run and ends it as `run` would. */
export const followCommand = (args: CliArgs) =>
  Effect.gen(function*() {
    const execution = args.cluster!.execution!
    return yield* Effect.gen(function*() {
      if (!(yield* executionKnown(execution))) return yield* unknownExecution(execution)
      yield* Effect.logInfo(`following distributed run ${execution}`)
      const finished = yield* await_(execution, null)
      if (!finished.ok) return yield* failed(finished.error)
      // The run's request names the pipeline: load it as the submitter did, for the summary and the checks.
      const request = argsOf(finished.outcome.request)
      const plan = yield* planOf(request, (yield* load(request, false)).loaded)
      return yield* finish(args, finished.outcome, plan).pipe(Effect.provide(connectorsLayer(plan)))
    }).pipe(Effect.provide(clientLayer(yield* storage)))
  }).pipe(clusterFailure("the distributed run could not be followed"))

/** An execution id the cluster's storage has never seen: exit 2, as for any bad argument. */
const unknownExecution = (execution: string) =>
  Effect.logError(`error: no distributed run ${execution} in the cluster's storage (POLYMATH_CLUSTER_DSN, else POSTGRES_DSN); \`run --distributed\` prints the id it submits`).pipe(
    Effect.as(ExitCode.invalid)
  )

/** `status`: one look at a distributed run. */
export const statusCommand = (args: CliArgs) =>
  Effect.gen(function*() {
    const execution = args.cluster!.execution!
    return yield* Effect.gen(function*() {
      const result = yield* RunWorkflow.poll(execution)
      if (Option.isNone(result) && !(yield* executionKnown(execution))) return yield* unknownExecution(execution)
      if (Option.isNone(result) || result.value._tag === "Suspended") {
        yield* out(`${execution}: running (or not started by a worker yet)`)
        return ExitCode.ok
      }
      const exit = result.value.exit
      if (exit._tag === "Success") {
        const { report } = JSON.parse(exit.value) as RunOutcome
        yield* out(`${execution}: succeeded (run ${report.runId}, ${report.units.reduce((n, u) => n + u.read, 0)} rows read, ${report.rejected.count} rejected)`)
        return ExitCode.ok
      }
      const e = Cause.squash(exit.cause)
      yield* out(`${execution}: failed: ${e instanceof DistributedRunError ? e.message : String(e)}`)
      return ExitCode.failed
    }).pipe(Effect.provide(clientLayer(yield* storage)))
  }).pipe(clusterFailure("the distributed run could not be read"))
