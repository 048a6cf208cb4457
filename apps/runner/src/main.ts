#!/usr/bin/env node
import { writeFileSync } from "node:fs"
import { NodeRuntime } from "@effect/platform-node"
import { Cause, Effect, Exit, Layer } from "effect"
import { formatDiagnostic, loadPipeline, pipelineJsonSchema, sortDiagnostics, SpecError } from "@polymath/dsl"
import type { LoadedPipeline, ModelFacts } from "@polymath/dsl"
import { compile, Embedders, execute, onlySteps, Progress, verify } from "@polymath/engine"
import type { Plan } from "@polymath/engine"
import { layerConfig as embeddersFromConfig, makeEmbedderFactory } from "@polymath/embeddings"
import type { OnnxEmbedderFactory } from "@polymath/embeddings"
import { helpText, parseCli, UsageError } from "./Cli.ts"
import type { CliArgs } from "./Cli.ts"
import { connectorsLayer } from "./Connections.ts"
import { reportFailure } from "./Failures.ts"
import { loggingLayer } from "./Logging.ts"
import { makeProgressEvents, makeProgressRenderer } from "./ProgressRenderer.ts"
import { renderChecks, renderPlan, renderSummary } from "./Render.ts"
import { RunnerConfig } from "./RunnerConfig.ts"
import { telemetryLayer } from "./Telemetry.ts"

/** Exit codes, as documented in --help. */
export const ExitCode = { ok: 0, failed: 1, invalid: 2, verifyFailed: 3, rejectedRows: 4, interrupted: 130 } as const

const version = "0.1.0"

const out = (s: string) => Effect.sync(() => void process.stdout.write(s.endsWith("\n") ? s : `${s}\n`))

/** Model names and dimensions for lint, from the registry the run will use. */
const modelFacts = (factory: OnnxEmbedderFactory) =>
  Effect.gen(function*() {
    const facts = new Map<string, ModelFacts>()
    for (const name of factory.registry.names) {
      const info = yield* factory.describe(name)
      facts.set(name, { dimensions: info.dimensions })
    }
    return facts
  })

/**
 * Reads the model registry once (lint checks model names and dimensions against it, and
 * the run's embedders come from the same factory), then loads and lints the pipeline. A
 * registry that cannot be read only disables the model checks; a run needing a model
 * then fails where it loads it, with the registry's own error.
 */
const load = (args: CliArgs, allowMissingEnv: boolean) =>
  Effect.gen(function*() {
    const factory = yield* makeEmbedderFactory().pipe(
      Effect.catch((e) => Effect.logWarning(`model registry not read (${e.message}); model names are not checked`).pipe(Effect.as(null)))
    )
    const models = factory === null ? undefined : yield* modelFacts(factory)
    const loaded = yield* loadPipeline(args.pipeline!, { set: args.set, allowMissingEnv, ...(models ? { models } : {}) })
    for (const w of sortDiagnostics(loaded.warnings)) yield* Effect.logWarning(formatDiagnostic(w))
    return { loaded, factory }
  })

const planOf = (args: CliArgs, loaded: LoadedPipeline) =>
  Effect.gen(function*() {
    const plan = compile(loaded, { force: args.force })
    const unknown = args.only.filter((o) => !plan.steps.some((s) => s.name === o))
    if (unknown.length > 0) {
      return yield* Effect.fail(new SpecError({ diagnostics: [{ position: null, message: `--only: unknown step ${unknown.join(", ")} (steps: ${plan.steps.map((s) => s.name).join(", ")})`, hint: null, severity: "error" }] }))
    }
    return args.only.length > 0 ? onlySteps(plan, args.only) : plan
  })

/** The services a command that touches the stores needs, all built from the plan. */
const storesLayer = (plan: Plan, factory: OnnxEmbedderFactory | null, format: "text" | "json") =>
  Layer.mergeAll(
    connectorsLayer(plan),
    factory === null ? embeddersFromConfig : Layer.succeed(Embedders, factory),
    Layer.succeed(Progress, format === "json" ? makeProgressEvents() : makeProgressRenderer())
  )

const runChecks = (plan: Plan) =>
  Effect.gen(function*() {
    if (plan.checks.length === 0) return ExitCode.ok
    const results = yield* verify(plan)
    yield* out(renderChecks(results))
    return results.every((r) => r.ok) ? ExitCode.ok : ExitCode.verifyFailed
  })

const command = (args: CliArgs, format: "text" | "json") =>
  Effect.gen(function*() {
    switch (args.command) {
      case "help":
        yield* out(helpText)
        return ExitCode.ok
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
        return yield* runChecks(plan).pipe(Effect.provide(storesLayer(plan, factory, format)))
      }
      case "run": {
        const { loaded, factory } = yield* load(args, false)
        const plan = yield* planOf(args, loaded)
        return yield* Effect.gen(function*() {
          const report = yield* execute(plan, { dryRun: false, resume: args.resume })
          yield* out(renderSummary(plan, report))
          const checks = args.verify && args.only.length === 0 ? yield* runChecks(plan) : ExitCode.ok
          // A failed check outranks rejected rows: both mean "look at this", but only one means "wrong".
          const code = checks !== ExitCode.ok ? checks : report.rejected.count > 0 ? ExitCode.rejectedRows : ExitCode.ok
          if (args.json) writeFileSync(args.json, JSON.stringify({ ...report, exitCode: code }, null, 2))
          return code
        }).pipe(Effect.provide(storesLayer(plan, factory, format)))
      }
    }
  })

/**
 * Reads the settings and the command line, then runs the command under the configured
 * logger and (when an endpoint is set) the OTLP exporter; failures become one message
 * and an exit code, never a stack trace (unless POLYMATH_DEBUG=1 for internal errors).
 */
const main = (argv: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const settings = yield* RunnerConfig.pipe(Effect.catch((e) => Effect.logError(`error: ${e.message}`).pipe(Effect.as(null))))
    if (settings === null) return ExitCode.invalid
    let args: CliArgs
    try {
      args = parseCli(argv)
    } catch (e) {
      if (e instanceof UsageError) {
        return yield* Effect.logError(`error: ${e.message}\nrun with --help for usage`).pipe(
          Effect.as(ExitCode.invalid),
          Effect.provide(loggingLayer(settings.logFormat, settings.logLevel))
        )
      }
      throw e
    }
    const format = args.logFormat ?? settings.logFormat
    return yield* command(args, format).pipe(
      reportFailure(settings.debug),
      // Telemetry is built on top of the logging layer: its OTLP logger joins ours instead of replacing it.
      Effect.provide(telemetryLayer(settings, version).pipe(Layer.provideMerge(loggingLayer(format, args.logLevel ?? settings.logLevel))))
    )
  })

NodeRuntime.runMain(main(process.argv.slice(2)), {
  disableErrorReporting: true,
  teardown: (exit, onExit) => {
    if (Exit.isSuccess(exit)) return onExit(exit.value as number)
    if (Cause.hasInterruptsOnly(exit.cause)) {
      process.stderr.write("interrupted: resources released; run again to resume from the last checkpoint\n")
      return onExit(ExitCode.interrupted)
    }
    return onExit(ExitCode.failed)
  }
})

