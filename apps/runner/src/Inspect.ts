/** The commands that read what runs integrated, in both stores: `search` and `trace`. */
import { Effect, Layer } from "effect"
import { compileSearch, Embedders, resolveStart, runSearch, SearchError, trace, traceModel } from "@polymath/engine"
import { layerConfig as embeddersFromConfig } from "@polymath/embeddings"
import type { CliArgs } from "./Cli.ts"
import { connectorsLayer } from "./Connections.ts"
import { ExitCode, load, out, planOf } from "./Pipeline.ts"
import { renderSearch, searchJson } from "./SearchOutput.ts"
import { renderTrace, traceJson } from "./TraceRender.ts"

export const searchCommand = (args: CliArgs) =>
  Effect.gen(function*() {
    const { loaded, factory } = yield* load(args, false)
    const compiled = compileSearch(loaded, yield* planOf(args, loaded), args.search!.name)
    if (compiled instanceof SearchError) return yield* compiled
    const stores = Layer.mergeAll(connectorsLayer(compiled), factory === null ? embeddersFromConfig : Layer.succeed(Embedders, factory))
    const result = yield* Effect.scoped(runSearch(compiled, args.search!)).pipe(Effect.provide(stores))
    yield* out(args.search!.json ? searchJson(result) : renderSearch(result))
    return ExitCode.ok
  })

export const traceCommand = (args: CliArgs) =>
  Effect.gen(function*() {
    const t = args.trace!
    if (!Number.isInteger(t.depth) || t.depth < 0 || t.depth > 10) return yield* Effect.logError(`error: --depth must be a whole number from 0 to 10, got ${t.depth}`).pipe(Effect.as(ExitCode.invalid))
    const { loaded } = yield* load(args, false)
    const plan = yield* planOf(args, loaded)
    const model = traceModel(plan)
    const start = resolveStart(model, t.label, t.key)
    if ("problem" in start) return yield* Effect.logError(`error: ${start.problem}`).pipe(Effect.as(ExitCode.invalid))
    const result = yield* trace(model, start, t.depth).pipe(Effect.provide(connectorsLayer(plan)))
    // Nothing to compare: most likely a mistyped key, which "the stores agree" would hide.
    if (result.nodes.length === 0) {
      const key = Object.entries(result.start.key).map(([k, v]) => `${k}=${v}`).join(", ")
      return yield* Effect.logError(`error: no ${t.label} node matches ${key}, neither in Postgres (source ${start.node.unit.rawSource.keyset.name}) nor in the graph`).pipe(Effect.as(ExitCode.invalid))
    }
    yield* out(t.json ? traceJson(result) : renderTrace(result))
    return result.differences.length === 0 ? ExitCode.ok : ExitCode.verifyFailed
  })
