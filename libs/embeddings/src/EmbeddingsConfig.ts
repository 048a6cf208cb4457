import { existsSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { Config, ConfigProvider, Effect, Option } from "effect"
import { embeddingError } from "./EmbeddingError.ts"
import type { EmbeddingError } from "./EmbeddingError.ts"
import { executionProviderPreferences } from "./ExecutionProvider.ts"
import type { ExecutionProviderPreference } from "./ExecutionProvider.ts"

/**
 * The environment settings of this lib, all read here through Effect's `Config` (so the current
 * `ConfigProvider` decides where they come from; by default the process environment). Options given
 * to the factory or loader in code take precedence over these.
 */
export interface EmbeddingsConfig {
  /** POLYMATH_EP (`cpu` | `cuda` | `auto`, any case); "auto" when unset. */
  readonly provider: ExecutionProviderPreference
  /** POLYMATH_EMBED_THREADS (a positive integer); unset: the cores this process may use. */
  readonly threads: Option.Option<number>
  /**
   * POLYMATH_EMBED_SESSIONS (a positive integer): sessions of one model on CPU, the threads split
   * between them; unset: 2 when there are 2 threads or more and the model is at most 1 GiB, else 1.
   */
  readonly sessions: Option.Option<number>
  /**
   * POLYMATH_EMBED_PRECISION (`auto` | `fp32`, any case); "auto" when unset: on CPU, a model's
   * registered int8 variant runs in its place.
   */
  readonly precision: Precision
  /** POLYMATH_MODEL_REGISTRY, else `<repo>/models/registry.json`. */
  readonly registryPath: string
  /** POLYMATH_MODELS_DIR, else `<repo>/.models`. */
  readonly modelsDir: string
}

/** "auto": on CPU, run a model's registered `int8Variant` instead of it; "fp32": always the model itself. */
export type Precision = "auto" | "fp32"

export const precisions: ReadonlyArray<Precision> = ["auto", "fp32"]

/**
 * The repository root: the nearest folder above this module that holds nx.json. This module is
 * libs/embeddings/src/EmbeddingsConfig.ts, or part of a chunk of the runner's bundle
 * (apps/runner/dist/<build>/), so its depth differs.
 */
const repoRoot = ((): string => {
  for (let dir = import.meta.dirname; ;) {
    if (existsSync(join(dir, "nx.json"))) return dir
    const up = dirname(dir)
    if (up === dir) return resolve(import.meta.dirname, "../../..")
    dir = up
  }
})()

// A SourceError carries our sentence as its message unchanged (a SchemaError would reword it).
const invalid = (message: string) => Effect.fail(new Config.ConfigError(new ConfigProvider.SourceError({ message })))

/** An optional setting; a value `parse` rejects fails with "<name> <expected>, got <value>". */
const checked = <A>(name: string, expected: string, parse: (raw: string) => Option.Option<A>) =>
  Config.String(name).pipe(
    Config.option,
    Config.mapEffect(Option.match({
      onNone: () => Effect.succeed(Option.none<A>()),
      onSome: (raw) =>
        Option.match(parse(raw), {
          onNone: () => invalid(`${name} ${expected}, got ${JSON.stringify(raw)}`),
          onSome: (value) => Effect.succeed(Option.some(value))
        })
    }))
  )

const provider = checked("POLYMATH_EP", `must be one of ${executionProviderPreferences.join(", ")}`, (raw) =>
  Option.fromNullishOr(executionProviderPreferences.find((p) => p === raw.trim().toLowerCase())))

const positive = (name: string) =>
  checked(name, "must be a positive integer", (raw) =>
    /^\s*[1-9][0-9]*\s*$/.test(raw) && Number.isSafeInteger(Number(raw)) ? Option.some(Number(raw)) : Option.none())

const precision = checked("POLYMATH_EMBED_PRECISION", `must be one of ${precisions.join(", ")}`, (raw) =>
  Option.fromNullishOr(precisions.find((p) => p === raw.trim().toLowerCase())))

/** The six settings, with their defaults. */
export const embeddingsConfig: Config.Config<EmbeddingsConfig> = Config.all({
  provider: provider.pipe(Config.map(Option.getOrElse((): ExecutionProviderPreference => "auto"))),
  threads: positive("POLYMATH_EMBED_THREADS"),
  sessions: positive("POLYMATH_EMBED_SESSIONS"),
  precision: precision.pipe(Config.map(Option.getOrElse((): Precision => "auto"))),
  registryPath: Config.String("POLYMATH_MODEL_REGISTRY").pipe(Config.withDefault(join(repoRoot, "models", "registry.json"))),
  modelsDir: Config.String("POLYMATH_MODELS_DIR").pipe(Config.withDefault(join(repoRoot, ".models")))
})

/** Reads `embeddingsConfig`; a bad value fails with reason BadData("ConfigInvalid") naming the variable. */
export const loadEmbeddingsConfig: Effect.Effect<EmbeddingsConfig, EmbeddingError> = Effect.mapError(
  embeddingsConfig,
  (error) => embeddingError("ConfigInvalid", error.cause.message)
)
