import { Effect } from "effect"
import { formatDiagnostic, loadPipeline, sortDiagnostics, SpecError } from "@polymath/dsl"
import type { LoadedPipeline, ModelFacts } from "@polymath/dsl"
import { compile, onlySteps } from "@polymath/engine"
import { makeEmbedderFactory } from "@polymath/embeddings"
import type { OnnxEmbedderFactory } from "@polymath/embeddings"
import type { CliArgs } from "./Cli.ts"
import { profileSets } from "./Profile.ts"

/** Exit codes, as documented in each command's --help. */
export const ExitCode = { ok: 0, failed: 1, invalid: 2, verifyFailed: 3, rejectedRows: 4, interrupted: 130 } as const

/** A command's result on stdout (logs go to stderr). */
export const out = (s: string) => Effect.sync(() => void process.stdout.write(s.endsWith("\n") ? s : `${s}\n`))

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
export const load = (args: CliArgs, allowMissingEnv: boolean) =>
  Effect.gen(function*() {
    const factory = yield* makeEmbedderFactory().pipe(
      Effect.catch((e) => Effect.logWarning(`model registry not read (${e.message}); model names are not checked`).pipe(Effect.as(null)))
    )
    const models = factory === null ? undefined : yield* modelFacts(factory)
    const defaults = yield* profileSets(args.pipeline!)
    yield* Effect.logDebug(`loading ${args.pipeline}`)
    const loaded = yield* loadPipeline(args.pipeline!, { set: [...defaults, ...args.set], allowMissingEnv, ...(models ? { models } : {}) })
    for (const w of sortDiagnostics(loaded.warnings)) yield* Effect.logWarning(formatDiagnostic(w))
    return { loaded, factory }
  })

/** The plan of a loaded pipeline, restricted to `--only` steps when given. */
export const planOf = (args: CliArgs, loaded: LoadedPipeline) =>
  Effect.gen(function*() {
    const plan = compile(loaded, { force: args.force })
    const unknown = args.only.filter((o) => !plan.steps.some((s) => s.name === o))
    if (unknown.length > 0) {
      return yield* Effect.fail(new SpecError({ diagnostics: [{ position: null, message: `--only: unknown step ${unknown.join(", ")} (steps: ${plan.steps.map((s) => s.name).join(", ")})`, hint: null, severity: "error" }] }))
    }
    return args.only.length > 0 ? onlySteps(plan, args.only) : plan
  })
