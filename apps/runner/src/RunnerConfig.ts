import { Config, Option } from "effect"

/** How log lines are written on stderr. */
export type LogFormat = "text" | "json"

/** Severity names as `--log-level` and `POLYMATH_LOG_LEVEL` take them. */
export const logLevels = ["debug", "info", "warn", "error"] as const
export type LogLevelName = (typeof logLevels)[number]

/**
 * Everything the runner reads from the environment, in one place and through
 * `Config` (tests supply a ConfigProvider instead of mutating process.env). The
 * pipeline's own `${env.*}` references are resolved by the DSL; model settings by
 * the embeddings lib's config.
 */
export const RunnerConfig = Config.all({
  logLevel: Config.Literals(logLevels, "POLYMATH_LOG_LEVEL").pipe(Config.withDefault<LogLevelName>("info")),
  logFormat: Config.Literals(["text", "json"] as const, "POLYMATH_LOG_FORMAT").pipe(Config.withDefault<LogFormat>("text")),
  /** Prints stack traces of internal errors. */
  debug: Config.Boolean("POLYMATH_DEBUG").pipe(Config.withDefault(false)),
  /** OTLP/HTTP base URL (…/v1/traces and …/v1/metrics are appended); telemetry is off without it. */
  otlpEndpoint: Config.String("OTEL_EXPORTER_OTLP_ENDPOINT").pipe(Config.option, Config.map(Option.filter((s) => s.trim() !== ""))),
  serviceName: Config.String("OTEL_SERVICE_NAME").pipe(Config.withDefault("polymath-etl"))
})

export type RunnerSettings = Config.Success<typeof RunnerConfig>

/** The environment the runner and the libs read, for `--help`. */
export const environmentHelp = `Environment:
  POSTGRES_DSN, NEO4J_URI, NEO4J_USER, NEO4J_PASSWORD   as the pipeline's \${env.*} references (any variable may be referenced)
  POLYMATH_MODEL_REGISTRY, POLYMATH_MODELS_DIR          model registry file and model directory
  POLYMATH_EP                                           execution provider: cpu or cuda (default: cuda when usable, else cpu)
  POLYMATH_EMBED_THREADS                                onnxruntime intra-op threads (default: the CPU count)
  POLYMATH_EMBED_SESSIONS                               CPU sessions of a model run side by side, threads split (default 2; 1 over 1 GiB)
  POLYMATH_EMBED_PRECISION                              auto: on CPU, a model's registered int8 variant runs in its place; fp32: never
  POLYMATH_HEAP_GROWING_PERCENT                         how far V8 grows the heap over live data, in % (default 20; 0: V8's heuristic)
  POLYMATH_BUNDLE                                       auto: start from the runner's bundle when it matches the sources (npm run bundle); off; require
  POLYMATH_LOG_LEVEL, POLYMATH_LOG_FORMAT               defaults for --log-level and --log-format (debug|info|warn|error; text|json)
  POLYMATH_PROFILE                                      machine defaults for params (default polymath.local.yaml, written by npm run demo)
  POLYMATH_DEBUG=1                                      print stack traces of internal errors
  OTEL_EXPORTER_OTLP_ENDPOINT                           export traces and metrics over OTLP/HTTP (JSON) to this base URL
  OTEL_SERVICE_NAME                                     service name on exported telemetry (default polymath-etl)`
