#!/usr/bin/env node
import { writeFileSync } from "node:fs"
import { NodeRuntime } from "@effect/platform-node"
import { Cause, Effect, Exit } from "effect"
import { formatDiagnostic, loadPipeline, pipelineJsonSchema, sortDiagnostics, SpecError } from "@polymath/dsl"
import type { LoadedPipeline, ModelFacts } from "@polymath/dsl"
import { compile, Connectors, DataError, Embedders, execute, onlySteps, PlanError, Progress, StepError, verify } from "@polymath/engine"
import { makeEmbedderFactory } from "@polymath/embeddings"
import { helpText, parseCli, UsageError } from "./Cli.ts"
import type { CliArgs } from "./Cli.ts"
import { openConnections } from "./Connections.ts"
import { makeProgressRenderer } from "./ProgressRenderer.ts"
import { renderChecks, renderPlan, renderSummary } from "./Render.ts"

/** Exit codes, as documented in --help. */
export const ExitCode = { ok: 0, failed: 1, invalid: 2, verifyFailed: 3, rejectedRows: 4, interrupted: 130 } as const

const err = (s: string) => Effect.sync(() => void process.stderr.write(s.endsWith("\n") ? s : `${s}\n`))
const out = (s: string) => Effect.sync(() => void process.stdout.write(s.endsWith("\n") ? s : `${s}\n`))

/** Model names and dimensions for lint; a registry that cannot be read only disables those checks. */
const modelFacts = Effect.gen(function*() {
  const factory = yield* makeEmbedderFactory()
  const facts = new Map<string, ModelFacts>()
  for (const name of factory.registry.names) {
    const info = yield* factory.describe(name)
    facts.set(name, { dimensions: info.dimensions })
  }
  return facts
})

const load = (args: CliArgs, allowMissingEnv: boolean) =>
  Effect.gen(function*() {
    const models = yield* modelFacts.pipe(
      Effect.catch((e) => err(`warning: model registry not read (${e.message}); model names are not checked`).pipe(Effect.as(undefined)))
    )
    const loaded = yield* loadPipeline(args.pipeline!, { set: args.set, allowMissingEnv, ...(models ? { models } : {}) })
    for (const w of sortDiagnostics(loaded.warnings)) yield* err(formatDiagnostic(w))
    return loaded
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

const withServices = <A, E>(loaded: LoadedPipeline, effect: Effect.Effect<A, E, Connectors | Embedders>) =>
  Effect.scoped(Effect.gen(function*() {
    const connectors = yield* openConnections(loaded.spec)
    const embedders = yield* makeEmbedderFactory()
    return yield* effect.pipe(Effect.provideService(Connectors, connectors), Effect.provideService(Embedders, embedders))
  })).pipe(Effect.provideService(Progress, makeProgressRenderer()))

const runChecks = (plan: ReturnType<typeof compile>) =>
  Effect.gen(function*() {
    if (plan.checks.length === 0) return ExitCode.ok
    const results = yield* verify(plan)
    yield* out(renderChecks(results))
    return results.every((r) => r.ok) ? ExitCode.ok : ExitCode.verifyFailed
  })

const command = (args: CliArgs) =>
  Effect.gen(function*() {
    switch (args.command) {
      case "help":
        yield* out(helpText)
        return ExitCode.ok
      case "schema":
        yield* out(JSON.stringify(pipelineJsonSchema(), null, 2))
        return ExitCode.ok
      case "validate": {
        const loaded = yield* load(args, true)
        const plan = yield* planOf(args, loaded)
        yield* out(`${loaded.file}: ok (${plan.steps.length} steps, ${plan.checks.length} checks)`)
        return ExitCode.ok
      }
      case "plan": {
        const loaded = yield* load(args, false)
        const plan = yield* planOf(args, loaded)
        const report = yield* withServices(loaded, execute(plan, { dryRun: true, resume: false }))
        yield* out(renderPlan(plan, report, loaded.file))
        return ExitCode.ok
      }
      case "verify": {
        const loaded = yield* load(args, false)
        const plan = yield* planOf(args, loaded)
        return yield* withServices(loaded, runChecks(plan))
      }
      case "run": {
        const loaded = yield* load(args, false)
        const plan = yield* planOf(args, loaded)
        return yield* withServices(loaded, Effect.gen(function*() {
          const report = yield* execute(plan, { dryRun: false, resume: args.resume })
          yield* out(renderSummary(plan, report))
          const checks = args.verify && args.only.length === 0 ? yield* runChecks(plan) : ExitCode.ok
          // A failed check outranks rejected rows: both mean "look at this", but only one means "wrong".
          const code = checks !== ExitCode.ok ? checks : report.rejected.count > 0 ? ExitCode.rejectedRows : ExitCode.ok
          if (args.json) writeFileSync(args.json, JSON.stringify({ ...report, exitCode: code }, null, 2))
          return code
        }))
      }
    }
  })

/** Maps failures to messages and exit codes; no stack trace reaches the user. */
const main = (argv: ReadonlyArray<string>) =>
  Effect.suspend(() => {
    let args: CliArgs
    try {
      args = parseCli(argv)
    } catch (e) {
      if (e instanceof UsageError) return err(`error: ${e.message}\nrun with --help for usage`).pipe(Effect.as(ExitCode.invalid))
      throw e
    }
    return command(args)
  }).pipe(
    Effect.catchCause((cause) => {
      if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause)
      const e = Cause.squash(cause)
      if (e instanceof SpecError) return err(e.message).pipe(Effect.as(ExitCode.invalid))
      if (e instanceof PlanError) return err(`the pipeline does not fit the databases or models:\n${e.problems.map((p) => `  - ${p}`).join("\n")}`).pipe(Effect.as(ExitCode.invalid))
      if (e instanceof StepError || e instanceof DataError) return err(`error: ${e.message}${e.hint ? e.hint.split("\n").map((h) => `\nhint: ${h}`).join("") : ""}`).pipe(Effect.as(ExitCode.failed))
      const failure = Cause.findErrorOption(cause)
      if (failure._tag === "Some" && typeof (failure.value as { message?: unknown }).message === "string") {
        return err(`error: ${(failure.value as { message: string }).message}`).pipe(Effect.as(ExitCode.failed))
      }
      const debug = process.env["POLYMATH_DEBUG"] === "1"
      return err(`internal error: ${e instanceof Error ? (debug ? e.stack : e.message) : String(e)}`).pipe(Effect.as(ExitCode.failed))
    })
  )

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
