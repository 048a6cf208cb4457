import { Effect, Option } from "effect"
import type { LogLevel } from "effect"
import { Argument, Command, Flag, GlobalFlag } from "effect/cli"
import { environmentHelp } from "./RunnerConfig.ts"
import type { LogFormat } from "./RunnerConfig.ts"

/** What the user asked for, whichever command parsed it. */
export interface CliArgs {
  readonly command: "run" | "validate" | "verify" | "plan" | "schema" | "test" | "search" | "trace" | "worker" | "follow" | "status"
  readonly pipeline: string | null
  readonly set: ReadonlyArray<string>
  readonly only: ReadonlyArray<string>
  readonly force: boolean
  readonly resume: boolean
  readonly verify: boolean
  /** Where to write the run report (JSON, or Markdown for a .md name). */
  readonly report: string | null
  /** null: from POLYMATH_LOG_LEVEL, else info. */
  readonly logLevel: LogLevel.LogLevel | null
  /** null: from POLYMATH_LOG_FORMAT, else text. */
  readonly logFormat: LogFormat | null
  /** What `search` asks; null for other commands. */
  readonly search: SearchArgs | null
  /** `trace`: where it starts (a label and key values) and how far it goes; null for other commands. */
  readonly trace: { readonly label: string; readonly key: ReadonlyArray<string>; readonly depth: number; readonly json: boolean } | null
  /** Running on a cluster of workers (`run --distributed`, `worker`, `follow`, `status`); null otherwise. */
  readonly cluster: ClusterArgs | null
}

export interface ClusterArgs {
  /** `run --distributed`: how many key ranges each unit's source is cut into. */
  readonly ranges: number
  /** `follow` / `status`: the run's execution id, as `run --distributed` printed it. */
  readonly execution: string | null
  /** `worker`: host:port to listen on, and the host:port other workers reach it at (default: the listen address). */
  readonly listen: string
  readonly advertise: string | null
  /** `worker`: ranges run at once. */
  readonly concurrency: number
}

/** The cluster settings of a command that does not set them. */
export const clusterDefaults: ClusterArgs = { ranges: 8, execution: null, listen: "127.0.0.1:34431", advertise: null, concurrency: 1 }

export interface SearchArgs {
  readonly name: string
  readonly query: string
  /** null: the search's own k. */
  readonly k: number | null
  readonly filters: ReadonlyArray<string>
  readonly via: ReadonlyArray<string>
  readonly exact: boolean
  /** Print the result as JSON on stdout instead of a table. */
  readonly json: boolean
}

/** `--log-format text|json`, for every command (log lines always go to stderr). */
export const LogFormatSetting = GlobalFlag.Setting("log-format")({
  flag: Flag.Literals("log-format", ["text", "json"]).pipe(
    Flag.optional,
    Flag.withMetavar("text|json"),
    Flag.withDescription("text (default) or json: one JSON object per stderr line, progress included")
  )
})

const pipeline = Flag.String("pipeline").pipe(
  Flag.withAlias("p"),
  Flag.withDescription("pipelines/<name>.yaml, or a path to a YAML file")
)
const set = Flag.String("set").pipe(
  Flag.atLeast(0),
  Flag.withMetavar("key=value"),
  Flag.withDescription("override a param (repeatable), e.g. --set extractor_version=batch-v2")
)
const only = Flag.String("only").pipe(Flag.atLeast(0), Flag.withMetavar("step"), Flag.withDescription("run only this step (repeatable)"))
const force = Flag.Boolean("force").pipe(
  Flag.withDefault(false),
  Flag.withDescription("re-embed every row the source selects, even those whose vector was made from the same text with the same model, and start a fresh run")
)
const resume = Flag.Boolean("resume").pipe(
  Flag.withDefault(true),
  Flag.withDescription("continue the latest unfinished run with the same pipeline, params and stores (--no-resume starts over)")
)
const verifyAfter = Flag.Boolean("verify").pipe(Flag.withDefault(true), Flag.withDescription("run the verify block after the steps (--no-verify skips it)"))
const dryRun = Flag.Boolean("dry-run").pipe(Flag.withDefault(false), Flag.withDescription("connect and count, print the plan, write nothing (same as the plan command)"))
const report = Flag.String("report").pipe(
  Flag.optional,
  Flag.withMetavar("file"),
  Flag.withDescription("write the run report there (JSON; Markdown when the name ends in .md), also when the run fails or is interrupted")
)
const distributed = Flag.Boolean("distributed").pipe(Flag.withDefault(false), Flag.withDescription("run on the cluster's workers (start them with polymath worker) instead of in this process"))
const ranges = Flag.Int("ranges").pipe(Flag.withDefault(clusterDefaults.ranges), Flag.withDescription(`with --distributed: key ranges per unit, spread over the workers (default ${clusterDefaults.ranges})`))
const execution = Argument.String("execution").pipe(Argument.withDescription("the distributed run's execution id, as run --distributed printed it"))
const json = Flag.String("json").pipe(Flag.optional, Flag.withMetavar("file"), Flag.withDescription("same as --report (kept for scripts written before it)"))

const base = (command: CliArgs["command"], p: string | null): CliArgs => ({
  command, pipeline: p, set: [], only: [], force: false, resume: true, verify: true, report: null, logLevel: null, logFormat: null, search: null, trace: null, cluster: null
})

/** The global settings every handler reads: --log-level (effect/cli's own) and --log-format. */
const globals = Effect.gen(function*() {
  const level = yield* GlobalFlag.LogLevel
  const format = yield* LogFormatSetting
  return { logLevel: Option.getOrNull(level), logFormat: Option.getOrNull(format) }
})

/**
 * The command tree. `dispatch` runs a parsed command line and reports its exit code;
 * each command has its own --help with examples, and effect/cli adds --version,
 * --completions <shell> and --log-level.
 */
export const commandTree = <R>(dispatch: (args: CliArgs) => Effect.Effect<void, never, R>) => {
  const handle = (args: CliArgs) => Effect.flatMap(globals, (g) => dispatch({ ...args, ...g }))

  const run = Command.make("run", { pipeline, set, only, force, resume, verify: verifyAfter, dryRun, report, json, distributed, ranges }, (f) =>
    handle({
      ...base(f.dryRun ? "plan" : "run", f.pipeline),
      set: f.set, only: f.only, force: f.force, resume: f.resume && !f.force, verify: f.verify,
      report: Option.getOrNull(Option.orElse(f.report, () => f.json)),
      cluster: f.distributed ? { ...clusterDefaults, ranges: f.ranges } : null
    })).pipe(
      Command.withDescription("Run the pipeline's steps, then its verify block. Exit codes: 0 ok, 1 failed, 2 invalid pipeline, 3 verification failed, 4 completed but rows were rejected (listed in the summary), 130 interrupted."),
      Command.withExamples([
        { command: "polymath run --pipeline batch-v1", description: "embed and sync the batch-v1 extractor run, then verify it" },
        { command: "polymath run -p batch-v1 --set extractor_version=batch-v2 --report run.json", description: "another version, with a JSON report" },
        { command: "polymath run -p batch-v1 --only sync_graph --no-verify", description: "only the graph step" },
        { command: "polymath run -p batch-v1 --distributed --ranges 16", description: "on the cluster's workers, each unit cut into 16 key ranges" }
      ])
    )

  const worker = Command.make("worker", {
    listen: Flag.String("listen").pipe(Flag.withDefault(clusterDefaults.listen), Flag.withMetavar("host:port"), Flag.withDescription(`where this worker listens for the others (default ${clusterDefaults.listen})`)),
    advertise: Flag.String("advertise").pipe(Flag.optional, Flag.withMetavar("host:port"), Flag.withDescription("the address the other workers reach this one at (default: the listen address)")),
    concurrency: Flag.Int("concurrency").pipe(Flag.withDefault(clusterDefaults.concurrency), Flag.withDescription("ranges this worker runs at once (default 1)"))
  }, (f) => handle({ ...base("worker", null), cluster: { ...clusterDefaults, listen: f.listen, advertise: Option.getOrNull(f.advertise), concurrency: f.concurrency } })).pipe(
    Command.withDescription("Join the cluster of workers that runs distributed runs (state in POLYMATH_CLUSTER_DSN, else POSTGRES_DSN) and work until stopped. Every worker needs the pipeline files at the same paths and the environment they reference."),
    Command.withExamples([
      { command: "polymath worker --listen 0.0.0.0:34431 --advertise node-a.lab:34431", description: "a worker other machines reach at node-a.lab" },
      { command: "polymath worker --listen 127.0.0.1:34432", description: "a second worker on this machine" }
    ])
  )

  const follow = Command.make("follow", { execution, verify: verifyAfter }, (f) => handle({ ...base("follow", null), verify: f.verify, cluster: { ...clusterDefaults, execution: f.execution } })).pipe(
    Command.withDescription("Wait for a distributed run (one whose submitting process was stopped, say), then print its summary and run its checks, with run's exit codes."),
    Command.withExamples([{ command: "polymath follow 6ad79595a425c374b82e13b1726d6648", description: "reattach to a distributed run" }])
  )

  const status = Command.make("status", { execution }, (f) => handle({ ...base("status", null), cluster: { ...clusterDefaults, execution: f.execution } })).pipe(
    Command.withDescription("Say whether a distributed run is running, succeeded or failed, without waiting."),
    Command.withExamples([{ command: "polymath status 6ad79595a425c374b82e13b1726d6648", description: "where a distributed run stands" }])
  )

  const plan = Command.make("plan", { pipeline, set, only, force }, (f) => handle({ ...base("plan", f.pipeline), set: f.set, only: f.only, force: f.force })).pipe(
    Command.withDescription("Connect, count and print what a run would do, per unit; writes nothing."),
    Command.withExamples([{ command: "polymath plan --pipeline batch-v1", description: "what batch-v1 would read, write, skip and reject" }])
  )

  const validate = Command.make("validate", { pipeline, set }, (f) => handle({ ...base("validate", f.pipeline), set: f.set })).pipe(
    Command.withDescription("Lint the pipeline file; connects to nothing. Every problem is reported with file:line:col."),
    Command.withExamples([{ command: "polymath validate --pipeline pipelines/batch-v1.yaml", description: "check a file before committing it" }])
  )

  const verify = Command.make("verify", { pipeline, set }, (f) => handle({ ...base("verify", f.pipeline), set: f.set })).pipe(
    Command.withDescription("Run only the pipeline's verify block against the databases (exit 3 when a check fails)."),
    Command.withExamples([{ command: "polymath verify --pipeline batch-v1 --set extractor_version=batch-v2", description: "check batch-v2's traceability" }])
  )

  const trace = Command.make("trace", {
    pipeline,
    set,
    label: Argument.String("label").pipe(Argument.withDescription("the label of a node mapping of the pipeline, e.g. Concept, Passage, Paper")),
    key: Argument.String("key").pipe(Argument.variadic(), Argument.withDescription("values of the label's key properties, in key order; fewer than all match every node with that prefix")),
    depth: Flag.Int("depth").pipe(Flag.withDefault(2), Flag.withDescription("how many relationship hops to follow, 0 to 10 (default 2)")),
    json: Flag.Boolean("json").pipe(Flag.withDefault(false), Flag.withDescription("print the trace as one JSON document"))
  }, (f) => handle({ ...base("trace", f.pipeline), set: f.set, trace: { label: f.label, key: f.key, depth: f.depth, json: f.json } })).pipe(
    Command.withDescription(
      "Follow one node through the pipeline's relationship mappings, reading each hop from both stores side by side: the mapping's source rows in Postgres and the relationships in Neo4j holding this run's lineage, the nodes at their ends, and their vectors. Lists every difference. Exit codes: 0 the stores agree, 3 differences were found, 2 an unknown label, a wrong number of key values or a key neither store has."
    ),
    Command.withExamples([
      { command: "polymath trace -p batch-v1 Concept BERT method", description: "the concept (name, type), the passages that mention it, their papers" },
      { command: "polymath trace -p batch-v1 Concept BERT", description: "every concept named BERT, whatever its type" },
      { command: "polymath trace -p batch-v1 Paper 7b1c0a8e-0000-4000-8000-000000000001 --depth 1 --json", description: "a paper and its passages, as JSON" },
      { command: "polymath trace -p batch-v1 --set extractor_version=batch-v2 Passage <passage_id>", description: "a passage as batch-v2 sees it" }
    ])
  )

  const test = Command.make("test", { pipeline, set }, (f) => handle({ ...base("test", f.pipeline), set: f.set })).pipe(
    Command.withDescription("Run the pipeline's test cases (<pipeline>.test.yaml beside it): its mappings on in-memory rows, no database."),
    Command.withExamples([{ command: "polymath test --pipeline batch-v1", description: "check batch-v1's mappings against pipelines/batch-v1.test.yaml" }])
  )

  const schema = Command.make("schema", {}, () => handle(base("schema", null))).pipe(
    Command.withDescription("Print the JSON Schema of pipeline files (committed as pipelines/pipeline.schema.json)."),
    Command.withExamples([{ command: "polymath schema > pipelines/pipeline.schema.json", description: "regenerate the committed schema" }])
  )

  const search = Command.make("search", {
    pipeline,
    set,
    name: Argument.String("search").pipe(Argument.withDescription("the name of a search the pipeline declares under searches:")),
    query: Argument.String("query").pipe(Argument.withDescription("what to look for, in words")),
    k: Flag.Int("k").pipe(Flag.optional, Flag.withDescription("how many hits (default: the search's k, else 10)")),
    filter: Flag.String("filter").pipe(Flag.atLeast(0), Flag.withMetavar("column=value"), Flag.withDescription("keep rows whose column equals value (a column the search lists under filters; repeatable)")),
    via: Flag.String("via").pipe(Flag.atLeast(0), Flag.withMetavar("TYPE:Label[:prop=value]"), Flag.withDescription("keep hits whose graph node has such a relationship, e.g. MENTIONS:Method (repeatable: all must hold)")),
    exact: Flag.Boolean("exact").pipe(Flag.withDefault(false), Flag.withDescription("scan every vector instead of asking the vector index (exact, slower)")),
    json: Flag.Boolean("json").pipe(Flag.withDefault(false), Flag.withDescription("print the hits and per-stage timings as JSON"))
  }, (f) =>
    handle({
      ...base("search", f.pipeline),
      set: f.set,
      search: { name: f.name, query: f.query, k: Option.getOrNull(f.k), filters: f.filter, via: f.via, exact: f.exact, json: f.json }
    })).pipe(
      Command.withDescription("Semantic search over an embed step's vectors, expanded through the graph: embeds the query with the step's model, finds the nearest rows (the vector index's metric), and shows each hit with what the search's graph expansion returns. Exit codes: 0 ok (also when nothing matched), 1 a store failed, 2 unknown search, filter or --via."),
      Command.withExamples([
        { command: "polymath search -p batch-v1 passages \"contrastive pretraining of sentence encoders\"", description: "the 10 nearest passages with their paper and concepts" },
        { command: "polymath search -p batch-v1 passages \"graph neural networks\" --via MENTIONS:Method --k 5", description: "only passages that mention a Method" },
        { command: "polymath search -p batch-v1 passages \"retrieval\" --filter section=methods --json", description: "filtered by a column, as JSON" }
      ])
    )

  return Command.make("polymath").pipe(
    Command.withDescription(`Run declarative pipelines that embed passages into pgvector and sync a Neo4j graph.

Exit codes: 0 ok, 1 failed, 2 invalid pipeline or command line, 3 verification failed,
4 completed but rows were rejected (on_error: skip; listed in the summary), 130 interrupted.

${environmentHelp}`),
    Command.withSubcommands([run, plan, validate, verify, trace, test, search, schema, worker, follow, status]),
    Command.withGlobalFlags([LogFormatSetting])
  )
}
