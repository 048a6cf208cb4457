import { parseArgs } from "node:util"
import { environmentHelp, logLevels } from "./RunnerConfig.ts"
import type { LogFormat, LogLevelName } from "./RunnerConfig.ts"

/** What the user asked for. */
export interface CliArgs {
  readonly command: "run" | "validate" | "verify" | "plan" | "schema" | "help"
  readonly pipeline: string | null
  readonly set: ReadonlyArray<string>
  readonly only: ReadonlyArray<string>
  readonly dryRun: boolean
  readonly force: boolean
  readonly resume: boolean
  readonly verify: boolean
  readonly json: string | null
  /** null: from POLYMATH_LOG_LEVEL, else info. */
  readonly logLevel: LogLevelName | null
  /** null: from POLYMATH_LOG_FORMAT, else text. */
  readonly logFormat: LogFormat | null
}

/** The `--help` text. */
export const helpText = `polymath-etl: run declarative pipelines that embed passages into pgvector and sync a Neo4j graph

Usage:
  nx run runner:exec --pipeline=<name> [options]       run a pipeline (steps, then its verify block)
  node apps/runner/src/main.ts <command> --pipeline=<name> [options]

Commands:
  run        run the pipeline's steps, then its checks (default)
  plan       connect, count and print what a run would do; writes nothing (same as run --dry-run)
  validate   lint the pipeline file only; connects to nothing
  verify     run only the pipeline's verify block
  schema     print the JSON Schema of pipeline files

Options:
  --pipeline <name|path>  pipelines/<name>.yaml, or a path to a YAML file
  --set key=value         override a param (repeatable), e.g. --set extractor_version=batch-v2
  --only <step>           run only this step (repeatable)
  --dry-run               connect and count, print the plan, write nothing
  --force                 re-embed every row the source selects, even those whose vector was made
                          from the same text with the same model, and start a fresh run
  --no-resume             start a new run even if an unfinished one matches (a run is resumed only
                          against the same stores; otherwise it starts over and says why)
  --no-verify             skip the verify block after a run
  --json <file>           also write the run report as JSON
  --log-level <level>     debug, info (default), warn or error; logs go to stderr
  --log-format <format>   text (default) or json: one JSON object per stderr line (progress included)
  -h, --help              show this help

${environmentHelp}

Exit codes:
  0 ok   1 failed   2 invalid pipeline   3 verification failed
  4 completed, but rows were rejected (on_error: skip; listed in the summary)   130 interrupted
`

/** Thrown for unusable command lines; printed without a stack. */
export class UsageError extends Error {}

const commands = new Set(["run", "validate", "verify", "plan", "schema", "help"])

/** Parses argv (without node and script). */
export const parseCli = (argv: ReadonlyArray<string>): CliArgs => {
  let parsed
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        pipeline: { type: "string", short: "p" },
        set: { type: "string", multiple: true },
        only: { type: "string", multiple: true },
        "dry-run": { type: "boolean" },
        force: { type: "boolean" },
        "no-resume": { type: "boolean" },
        "no-verify": { type: "boolean" },
        json: { type: "string" },
        "log-level": { type: "string" },
        "log-format": { type: "string" },
        help: { type: "boolean", short: "h" }
      }
    })
  } catch (e) {
    throw new UsageError((e as Error).message)
  }
  const { values, positionals } = parsed
  const first = positionals[0]
  if (first !== undefined && !commands.has(first)) throw new UsageError(`unknown command '${first}' (commands: ${[...commands].join(", ")})`)
  if (positionals.length > 1) throw new UsageError(`unexpected argument '${positionals[1]}'`)
  const command = values.help ? "help" : ((first ?? "run") as CliArgs["command"])
  const logLevel = values["log-level"] ?? null
  if (logLevel !== null && !(logLevels as ReadonlyArray<string>).includes(logLevel)) throw new UsageError(`--log-level must be one of ${logLevels.join(", ")}, got '${logLevel}'`)
  const logFormat = values["log-format"] ?? null
  if (logFormat !== null && logFormat !== "text" && logFormat !== "json") throw new UsageError(`--log-format must be text or json, got '${logFormat}'`)
  const pipeline = values.pipeline ?? null
  if (pipeline === null && command !== "help" && command !== "schema") throw new UsageError("--pipeline is required (e.g. --pipeline=batch-v1)")
  return {
    command: command === "run" && values["dry-run"] ? "plan" : command,
    pipeline,
    set: values.set ?? [],
    only: values.only ?? [],
    dryRun: command === "plan" || (values["dry-run"] ?? false),
    force: values.force ?? false,
    resume: !(values["no-resume"] ?? false) && !(values.force ?? false),
    verify: !(values["no-verify"] ?? false),
    json: values.json ?? null,
    logLevel: logLevel as LogLevelName | null,
    logFormat: logFormat as LogFormat | null
  }
}
