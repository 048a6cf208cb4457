import { existsSync } from "node:fs"
// Subpath imports: the package's index also loads its Redis, HTTP and socket modules (~40% of start-up).
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Cause, Clock, Effect, Exit, Layer, Ref } from "effect"
import { Command } from "effect/cli"
import { displayPath, pipelineJsonSchema, resolvePipelinePath, SpecError } from "@polymath/dsl"
import type { LoadedPipeline } from "@polymath/dsl"
import { Embedders, execute, formatTestReport, PlanError, Progress, RunEvents, runPipelineTests, testFileFor, unitsOf, verify } from "@polymath/engine"
import type { CheckResult, Plan, RunObserver, UnitReport } from "@polymath/engine"
import { layerConfig as embeddersFromConfig } from "@polymath/embeddings"
import type { OnnxEmbedderFactory } from "@polymath/embeddings"
import { commandTree } from "./Cli.ts"
import type { CliArgs } from "./Cli.ts"
import { connectorsLayer } from "./Connections.ts"
import { reportFailure } from "./Failures.ts"
import { loggingLayer } from "./Logging.ts"
import { ExitCode, load, out, planOf } from "./Pipeline.ts"
import { makeProgressEvents, progressRendererLayer, writeAboveProgress } from "./ProgressRenderer.ts"
import { renderChecks, renderPlan } from "./Render.ts"
import { checksCode, endRun } from "./RunEnd.ts"
import { profileSets } from "./Profile.ts"
import { RunnerConfig } from "./RunnerConfig.ts"
import type { RunnerSettings } from "./RunnerConfig.ts"
import { redactParams, reportPathProblem, retryTotals, writeRunReport } from "./RunReport.ts"
import type { RunDocument, RunOutcome } from "./RunReport.ts"
import { telemetryLayer } from "./Telemetry.ts"

/** What an interrupted command says (the teardown below runs outside the program); only a run has a checkpoint to resume from. */
let interruptedNote = "interrupted: nothing was written"

const version = "0.1.0"

// Loaded by the commands that use them: the cluster (Effect's cluster and workflow modules, the
// Postgres client it keeps its state with) and search/trace are a fifth of a start otherwise.
const distributed = () => Effect.promise(() => import("./Distributed.ts"))
const inspect = () => Effect.promise(() => import("./Inspect.ts"))

/** The services a command that touches the stores needs, all built from the plan. */
const storesLayer = (plan: Plan, factory: OnnxEmbedderFactory | null, format: "text" | "json") =>
  Layer.mergeAll(
    connectorsLayer(plan),
    factory === null ? embeddersFromConfig : Layer.succeed(Embedders, factory),
    format === "json" ? Layer.succeed(Progress, makeProgressEvents()) : progressRendererLayer()
  )

/** What a run report needs to know, gathered as the run goes (so a failed or interrupted run still has it). */
interface RunState {
  startedAt: number
  loaded: LoadedPipeline | null
  plan: Plan | null
  runId: string | null
  resumed: boolean
  readonly units: Map<string, UnitReport>
  checks: ReadonlyArray<CheckResult> | null
  rejected: RunDocument["rejected"]
  notes: ReadonlyArray<string>
  /** A failure the command reported itself, then ended with its exit code (a distributed run's). */
  failure: string | null
}

const outcomeOf = (exit: Exit.Exit<number, unknown>): { readonly status: RunOutcome; readonly code: number; readonly error: string | null } => {
  if (Exit.isSuccess(exit)) {
    const status = exit.value === ExitCode.ok ? "succeeded" : exit.value === ExitCode.rejectedRows ? "completed with rejected rows" : "verification failed"
    return { status, code: exit.value, error: null }
  }
  if (Cause.hasInterruptsOnly(exit.cause)) return { status: "interrupted", code: ExitCode.interrupted, error: null }
  const e = Cause.squash(exit.cause)
  const invalid = e instanceof SpecError || e instanceof PlanError
  return { status: "failed", code: invalid ? ExitCode.invalid : ExitCode.failed, error: e instanceof Error ? e.message : String(e) }
}

const documentOf = (args: CliArgs, s: RunState, exit: Exit.Exit<number, unknown>, endedAt: number): RunDocument => {
  const { status, code, error } = s.failure !== null && Exit.isSuccess(exit) ? { status: "failed" as const, code: exit.value, error: s.failure } : outcomeOf(exit)
  // Units are recorded as they end (concurrent ones in any order); the report lists them in the plan's order.
  const order = new Map((s.plan === null ? [] : unitsOf(s.plan)).map((u, i) => [u.unit, i]))
  const position = (u: UnitReport) => order.get(u.unit) ?? order.size
  const units = [...s.units.values()].sort((a, b) => position(a) - position(b))
  return {
    pipeline: s.plan?.pipeline ?? null,
    file: s.loaded?.file ?? args.pipeline,
    command: "run",
    params: redactParams(s.plan?.params ?? {}),
    models: s.plan?.models ?? [],
    runId: s.runId,
    resumed: s.resumed,
    startedAt: new Date(s.startedAt).toISOString(),
    endedAt: new Date(endedAt).toISOString(),
    status,
    exitCode: code,
    error,
    units,
    retries: retryTotals(units),
    rejected: s.rejected,
    checks: s.checks,
    notes: s.notes
  }
}

const newState = (startedAt: number): RunState =>
  ({ startedAt, loaded: null, plan: null, runId: null, resumed: false, units: new Map(), checks: null, rejected: { count: 0, rows: [] }, notes: [], failure: null })

/** Writes `--report` from what the run gathered, whatever ends it. */
const withReport = <E, R>(args: CliArgs, state: RunState, body: Effect.Effect<number, E, R>) => {
  const path = args.report
  if (path === null) return body
  return body.pipe(
    Effect.onExit((exit) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.try(() => writeRunReport(path, documentOf(args, state, exit, now))).pipe(
          Effect.catch((e) => Effect.logError(`error: the run report was not written to ${path}: ${e.cause instanceof Error ? e.cause.message : String(e.cause)}`))
        ))
    )
  )
}

/** `run`: the steps, the summary, the checks; and the report, whatever ends the run. */
const runCommand = (args: CliArgs, format: "text" | "json") =>
  Effect.gen(function*() {
    const state = newState(yield* Clock.currentTimeMillis)
    const observer: RunObserver = {
      started: (runId, resumed) => Effect.sync(() => Object.assign(state, { runId, resumed })),
      unitEnded: (u) => Effect.sync(() => void state.units.set(u.unit, u))
    }
    const body = Effect.gen(function*() {
      const { loaded, factory } = yield* load(args, false)
      const plan = yield* planOf(args, loaded)
      Object.assign(state, { loaded, plan })
      return yield* Effect.gen(function*() {
        const report = yield* execute(plan, { dryRun: false, resume: args.resume })
        for (const u of report.units) state.units.set(u.unit, u)
        Object.assign(state, { rejected: report.rejected, notes: report.notes })
        return yield* endRun(plan, report, { verify: args.verify, partial: args.only.length > 0 }, (results) => (state.checks = results))
      }).pipe(Effect.provide(storesLayer(plan, factory, format)), Effect.provideService(RunEvents, observer))
    })
    return yield* withReport(args, state, body)
  })

/** `run --distributed`: the report is the one the cluster's run hands back, written as a local run's. */
const distributedRunCommand = (args: CliArgs) =>
  Effect.gen(function*() {
    const state = newState(yield* Clock.currentTimeMillis)
    const { distributedRun } = yield* distributed()
    return yield* withReport(args, state, distributedRun(args, {
      planned: (loaded, plan) => void Object.assign(state, { loaded, plan }),
      ended: (report) => {
        for (const u of report.units) state.units.set(u.unit, u)
        Object.assign(state, { runId: report.runId, resumed: report.resumed, rejected: report.rejected, notes: report.notes })
      },
      checked: (results) => void (state.checks = results),
      failed: (message) => void (state.failure = message)
    }))
  })

const perform = (args: CliArgs, format: "text" | "json", settings: RunnerSettings) =>
  Effect.gen(function*() {
    switch (args.command) {
      case "schema":
        yield* out(JSON.stringify(pipelineJsonSchema(), null, 2))
        return ExitCode.ok
      case "validate": {
        const { loaded } = yield* load(args, true)
        const plan = yield* planOf(args, loaded)
        yield* out(`${loaded.file}: ok (${plan.steps.length} steps, ${plan.checks.length} checks)`)
        return ExitCode.ok
      }
      case "plan": {
        const { loaded, factory } = yield* load(args, false)
        const plan = yield* planOf(args, loaded)
        const report = yield* execute(plan, { dryRun: true, resume: false }).pipe(Effect.provide(storesLayer(plan, factory, format)))
        yield* out(renderPlan(plan, report, loaded.file))
        return ExitCode.ok
      }
      case "verify": {
        const { loaded, factory } = yield* load(args, false)
        const plan = yield* planOf(args, loaded)
        if (plan.checks.length === 0) return ExitCode.ok
        const results = yield* verify(plan).pipe(Effect.provide(storesLayer(plan, factory, format)))
        yield* out(renderChecks(results))
        return checksCode(results)
      }
      case "trace":
        return yield* (yield* inspect()).traceCommand(args)
      case "test": {
        const file = testFileFor(resolvePipelinePath(args.pipeline!, "pipelines"))
        if (!existsSync(file)) {
          return yield* Effect.logError(`error: ${displayPath(file)} does not exist: a pipeline's test cases live beside it, in <pipeline>.test.yaml (see pipelines/batch-v1.test.yaml)`).pipe(Effect.as(ExitCode.invalid))
        }
        const report = yield* runPipelineTests(file, { set: [...(yield* profileSets(args.pipeline!)), ...args.set] })
        yield* out(formatTestReport(report))
        return report.failed > 0 ? ExitCode.failed : ExitCode.ok
      }
      case "search":
        return yield* (yield* inspect()).searchCommand(args)
      case "run":
        return args.cluster === null ? yield* runCommand(args, format) : yield* distributedRunCommand(args)
      case "worker":
        return yield* (yield* distributed()).workerCommand(args, settings.debug)
      case "follow":
        return yield* (yield* distributed()).followCommand(args)
      case "status":
        return yield* (yield* distributed()).statusCommand(args)
    }
  })

/**
 * Runs one parsed command under the configured logger and (when an endpoint is set)
 * the OTLP exporter; failures become one message and an exit code, never a stack
 * trace (unless POLYMATH_DEBUG=1 for internal errors).
 */
const dispatch = (settings: RunnerSettings, exitCode: Ref.Ref<number>) => (args: CliArgs) =>
  Effect.gen(function*() {
    if (args.command === "run") {
      interruptedNote = args.cluster === null
        ? "interrupted: resources released; run again to resume from the last checkpoint"
        : "interrupted: the distributed run goes on on the workers; `polymath follow <execution>` reattaches"
    }
    if (args.command === "worker") interruptedNote = "worker stopped: its work moves to the other workers"
    if (args.command === "follow") interruptedNote = "interrupted: the distributed run goes on on the workers"
    const format = args.logFormat ?? settings.logFormat
    // Text log lines go above the live progress lines instead of through them.
    const logging = loggingLayer(format, args.logLevel ?? settings.logLevel, format === "text" ? (line) => writeAboveProgress(line) : undefined)
    const problem = args.report === null ? null : reportPathProblem(args.report)
    const code = problem !== null
      ? yield* Effect.logError(`error: cannot write the run report to ${args.report}: ${problem}`).pipe(Effect.as(ExitCode.invalid), Effect.provide(logging))
      : yield* perform(args, format, settings).pipe(
        reportFailure(settings.debug),
        // Telemetry is built on top of the logging layer: its OTLP logger joins ours instead of replacing it.
        Effect.provide(telemetryLayer(settings, version).pipe(Layer.provideMerge(logging)))
      )
    yield* Ref.set(exitCode, code)
  })

const main = Effect.gen(function*() {
  const exitCode = yield* Ref.make<number>(ExitCode.ok)
  const settings = yield* RunnerConfig
  const cli = Command.run(commandTree(dispatch(settings, exitCode)), { version })
  // A command line effect/cli cannot parse has had its help and errors shown: exit 2.
  yield* cli.pipe(Effect.catch(() => Ref.set(exitCode, ExitCode.invalid)))
  return yield* Ref.get(exitCode)
}).pipe(
  Effect.catchTag("ConfigError", (e) => Effect.sync(() => process.stderr.write(`error: ${e.message}\n`)).pipe(Effect.as(ExitCode.invalid))),
  Effect.provide(NodeServices.layer)
)

NodeRuntime.runMain(main, {
  disableErrorReporting: true,
  teardown: (exit, onExit) => {
    if (Exit.isSuccess(exit)) return onExit(exit.value as number)
    if (Cause.hasInterruptsOnly(exit.cause)) {
      process.stderr.write(`${interruptedNote}\n`)
      return onExit(ExitCode.interrupted)
    }
    return onExit(ExitCode.invalid)
  }
})
