/**
 * npm run bench -- <embed|memory|graph|vectors|reads|large|search|cluster|e2e> [options]     (see --help)
 *
 * Benchmarks of the embed path and of the runner's memory. Needs the local stack
 * (`npm run stack -- up`, `eval "$(npm run -s stack -- env)"`) for `embed` and `memory`; creates and
 * uses its own databases (polymath_bench, polymath_bench100), never the others.
 */
import { parseArgs } from "node:util"
import { prepareRunner } from "./common.ts"
import { clusterBench } from "./cluster.ts"
import { e2eBench } from "./e2e.ts"
import { embedBench } from "./embed.ts"
import { defaultMethods, methods } from "./embed.ts"
import { graphBench, graphContenders } from "./graph.ts"
import { readMethods, readsBench } from "./reads.ts"
import { largeBench } from "./large.ts"
import { memoryBench } from "./memory.ts"
import { searchBench } from "./search.ts"
import { vectorsBench } from "./vectors.ts"
import { vectorContenders } from "./vectors-contenders.ts"

const USAGE = `usage: npm run bench -- <command> [options]

  --smoke  (embed, memory, graph, vectors, reads, cluster, e2e) a tiny run that only shows the benchmark still works
           (test/bench-smoke.e2e.test.ts runs each): scale 1, 1 repetition; embed 8 passages of the
           mixed set and memory 1 page (and the whole pipeline, stopped once its graph step has ended),
           both with bge-small-en-v1.5-q; graph on the scale-1 corpus cut
           to 60 documents (polymath_bench_smoke), no warm-up, the seed capped at 3 s; vectors 256
           rows; reads capped at 10 s. Options given explicitly still apply. Its numbers mean nothing.

  embed    throughput of (a) raw session runs, (b) the runner's embed step end to end (the
           model named, fp32; b' with the runner's default precision: on CPU the model's int8
           variant when the registry declares one), (c) fixed 32-row batches, (d) the Python
           reference (one text per run, and d' with our batching), on uniform and mixed lengths
    --model NAME          registry model (default bge-small-en-v1.5)
    --rows N              first N passages of the batch-v1 source (default: all 973 of scale 1)
    --reps R              repetitions, interleaved (default 3)
    --threads T           intra-op threads for every method (default: the embedder's default)
    --page-size P         override the embed step's page size (default: the pipeline's batch_size)
    --sets S              uniform,mixed (default both)
    --uniform-tokens L    tokens per text in the uniform set (default 128)
    --methods M           raw,runner,runner-auto,fixed32,python,python-sorted (default all); python is the
                          reference as tools/model/reference.py embeds (one text per run),
                          python-sorted uses this lib's batching; also, by name, variants of
                          (a) with other session options: raw-disabled, raw-basic, raw-extended
                          (graph optimisation level), raw-saved (the saved optimised model),
                          raw-1t (1 intra-op thread), raw-1s (1 session with every thread;
                          the default on CPU is 2 sessions, the threads split between them)
    --database DB         benchmark database (default polymath_bench)
    --spinning on|off     onnxruntime thread spin-waiting, every method (default: the embedder's)
    --batch-tokens N      token budget per session run (default: the embedder's)
    --batch-rows N        most rows per session run (default: the embedder's)
    --json FILE           write the results as JSON

  memory   peak RSS of the runner CLI (a child process) on the scale-1 and scale-100 corpora
    --model NAME          (default bge-small-en-v1.5)
    --embed-rows N        embed step over the first N passages of each corpus (default 5000)
    --graph               also run the graph-sync step in full on both scales, into a private
                          Neo4j started and stopped by the benchmark (the stack's is not written)
    --steps S             embed_passages,sync_graph,whole (default embed_passages; --graph adds
                          sync_graph; whole: the whole pipeline, both steps side by side, in a private
                          Neo4j, stopped once the graph step has ended and --embed-rows are embedded)
    --scales A,B          (default 1,100)
    --node-options O      NODE_OPTIONS for the runner, e.g. --max-old-space-size=96
    --json FILE

  graph    batch-v1's graph sync by the seed's method (UNWIND 500, MERGE without constraints), a
           hand-tuned script (constraints first, large batches) and the runner (--only sync_graph),
           interleaved, graph emptied and constraints dropped before each, in a private Neo4j
    --scales A,B          corpus scales (default 1,10)
    --reps R              runs of each contender per scale, interleaved (default 1)
    --cap-s S             stop a contender after S seconds, reported as "> S s" (default 120)
    --contenders C        seed,hand,runner,baseline (default all; baseline only with --baseline)
    --hand-batch N        rows per UNWIND of the hand-tuned script (default 10000)
    --baseline DIR        also run the runner of another checkout (contender "baseline"), e.g. a
                          git worktree of the commit before a change, with its own node_modules links
    --json FILE

  vectors  writing precomputed vectors (seeded random unit vectors) into passages.embedding for
           batch-v1's passages: the seed's method (UPDATE + commit per row), a hand-tuned script
           (COPY to a temp table + one UPDATE FROM) and the runner's VectorStore writer (one
           writeVectors per page of the embed step's batch_size), interleaved, state reset before each
    --scales A,B          corpus scales (default 1,10)
    --reps R              runs of each contender per scale, interleaved (default 2)
    --cap-s S             stop a contender after S seconds, reported as "> S s" (default 120)
    --contenders C        seed,hand,runner (default all)
    --dim D               vector dimension (default 384; another one uses its own database)
    --rows N              only the first N rows of each scale's set
    --json FILE           per scale: seconds, rows_per_s, runner_vs_seed, runner_vs_hand

  reads    cost per row of reading batch-v1's sources in key order: the runner's cursor reader vs
           re-running the query per keyset page vs one execution, at each scale
    --scales A,B          (default 1,10)
    --sources S           source names (default every batch-v1 source)
    --methods M           cursor,rerun,single (default all)
    --page-size P         rows per page (default 1000, the graph step's batch_size)
    --cap-s S             stop a pass after S seconds (default 120)
    --json FILE

  large    (a) and (d) on a large model (default .models/xlmr-large-random) for a few batches
    --model-dir DIR       (default .models/xlmr-large-random)
    --batches N           session runs per method (default 3)
    --reps R              (default 2)
    --seq L               tokens per text (default 256)
    --rows B              rows per batch (default 4)
    --passages N          passages to extrapolate to (default 973)
    --mean-tokens T       their mean length in tokens (default: the scale-1 corpus's, measured)
    --json FILE

  search   precision@10 per topic on the scale-1 corpus (embedded by the pipeline), and on the
           scale-100 corpus (vectors: perturbed copies of scale-1 vectors) HNSW recall@10 vs
           the exact scan and warm query latency (embed, kNN, graph expansion) p50/p95
    --model NAME          (default bge-small-en-v1.5)
    --reps R              timed queries per kNN mode (default 40)
    --recall-queries N    stored vectors used as recall queries (default 200)
    --noise X             uniform noise per dimension of the perturbed copies (default 0.02)
    --no-graph            skip syncing the scale-100 graph (the expansion is then not timed)
    --json FILE           at least precision_at_10, hnsw_recall_at_10, p50_ms

  cluster  the embed step and the graph step run distributed (run --distributed --only STEP) on 1
           and on 2 worker processes (1 intra-op thread, 1 range at a time each), interleaved, state
           reset before each, into a private Neo4j; then whether the 2-worker runs left the stores as
           a single-process run does (vectors, nodes, relationships and their properties)
    --scale N             corpus scale (default 1)
    --reps R              runs per worker count, interleaved (default 1)
    --ranges N            key ranges per unit (default 8)
    --steps S             embed,graph (default both)
    --model NAME          (default bge-small-en-v1.5)
    --cap-s S             fail when a distributed run takes longer (default 900)
    --json FILE           at least embed_speedup, graph_speedup, final_state_equal

  e2e      batch-v1 end to end on the scale-1 corpus: the seed's method (Python onnxruntime in fixed
           batches of 32, UPDATE + COMMIT per vector, the plan's graph sync: UNWIND 500, MERGE without
           constraints) against the runner (run --pipeline=batch-v1 --force, checks included), each a
           child process, interleaved, vectors cleared and the graph emptied (constraints dropped) before each
    --reps R              runs per contender, interleaved (default 2)
    --threads T           intra-op threads for both (default 2)
    --model NAME          (default bge-small-en-v1.5)
    --cap-s S             a contender still running after S seconds is stopped and reported as > S (default 900)
    --json FILE           at least runner_vs_seed, seconds, peak_rss_mb
`

const main = async (): Promise<void> => {
  const [command, ...rest] = process.argv.slice(2)
  const { values } = parseArgs({
    args: rest,
    options: {
      model: { type: "string" },
      rows: { type: "string" },
      reps: { type: "string" },
      threads: { type: "string" },
      "page-size": { type: "string" },
      sets: { type: "string" },
      "uniform-tokens": { type: "string" },
      methods: { type: "string" },
      database: { type: "string" },
      json: { type: "string" },
      "embed-rows": { type: "string" },
      graph: { type: "boolean" },
      steps: { type: "string" },
      "node-options": { type: "string" },
      scales: { type: "string" },
      scale: { type: "string" },
      ranges: { type: "string" },
      "model-dir": { type: "string" },
      batches: { type: "string" },
      seq: { type: "string" },
      passages: { type: "string" },
      "mean-tokens": { type: "string" },
      spinning: { type: "string" },
      "batch-tokens": { type: "string" },
      "batch-rows": { type: "string" },
      "recall-queries": { type: "string" },
      noise: { type: "string" },
      "no-graph": { type: "boolean" },
      "cap-s": { type: "string" },
      contenders: { type: "string" },
      baseline: { type: "string" },
      "hand-batch": { type: "string" },
      sources: { type: "string" },
      dim: { type: "string" },
      smoke: { type: "boolean" },
      help: { type: "boolean" }
    }
  })
  const int = (name: string, raw: string | undefined): number | null => {
    if (raw === undefined) return null
    if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new Error(`--${name} needs a positive integer, got ${raw}`)
    return Number(raw)
  }
  const list = <T extends string>(name: string, raw: string | undefined, allowed: ReadonlyArray<T>, dflt: ReadonlyArray<T>): ReadonlyArray<T> => {
    if (raw === undefined) return dflt
    const items = raw.split(",").map((s) => s.trim()).filter((s) => s !== "")
    for (const i of items) if (!allowed.includes(i as T)) throw new Error(`--${name}: unknown ${i} (one of ${allowed.join(", ")})`)
    return items as Array<T>
  }
  if (values.help || command === undefined || command === "help" || command === "--help" || command === "-h") {
    process.stdout.write(USAGE)
    return
  }
  // Smoke defaults: small enough that every benchmark together takes about a minute on 2 cores
  // (the int8 model, fetched with the test model, embeds in half the time).
  const smoke = values.smoke === true
  const smokeModel = smoke ? "bge-small-en-v1.5-q" : "bge-small-en-v1.5"
  // Every benchmark that starts the runner's CLI measures it as users start it: from its bundle.
  if (["memory", "search", "graph", "cluster", "e2e"].includes(command)) {
    process.stderr.write(`bench: the runner starts from ${prepareRunner()}\n`)
    if (command === "graph" && values.baseline !== undefined) process.stderr.write(`bench: the baseline runner starts from ${prepareRunner(values.baseline)}\n`)
  }
  switch (command) {
    case "embed": {
      await embedBench({
        model: values.model ?? smokeModel,
        rows: int("rows", values.rows) ?? (smoke ? 8 : null),
        reps: int("reps", values.reps) ?? (smoke ? 1 : 3),
        json: values.json ?? null,
        threads: int("threads", values.threads),
        pageSize: int("page-size", values["page-size"]),
        sets: list("sets", values.sets, ["uniform", "mixed"] as const, smoke ? ["mixed"] : ["uniform", "mixed"]),
        uniformTokens: int("uniform-tokens", values["uniform-tokens"]) ?? 128,
        methods: list("methods", values.methods, methods, defaultMethods),
        database: values.database ?? "polymath_bench",
        spinning: values.spinning === undefined ? null : values.spinning === "on" ? true : values.spinning === "off" ? false : (() => {
          throw new Error(`--spinning: on or off, got ${values.spinning}`)
        })(),
        batchTokens: int("batch-tokens", values["batch-tokens"]),
        batchRows: int("batch-rows", values["batch-rows"])
      })
      return
    }
    case "memory":
      await memoryBench({
        model: values.model ?? smokeModel,
        embedRows: int("embed-rows", values["embed-rows"]) ?? (smoke ? 8 : 5000),
        steps: values.steps !== undefined
          ? list("steps", values.steps, ["embed_passages", "sync_graph", "whole"] as const, [])
          : values.graph ? ["embed_passages", "sync_graph"] : smoke ? ["embed_passages", "whole"] : ["embed_passages"],
        nodeOptions: values["node-options"] ?? null,
        scales: (values.scales ?? (smoke ? "1" : "1,100")).split(",").map((s) => int("scales", s.trim())!),
        json: values.json ?? null
      })
      return
    case "search":
      await searchBench({
        model: values.model ?? "bge-small-en-v1.5",
        reps: int("reps", values.reps) ?? 40,
        recallQueries: int("recall-queries", values["recall-queries"]) ?? 200,
        noise: values.noise === undefined ? 0.02 : Number(values.noise),
        graph: !values["no-graph"],
        json: values.json ?? null
      })
      return
    case "graph":
      await graphBench({
        scales: (values.scales ?? (smoke ? "1" : "1,10")).split(",").map((s) => int("scales", s.trim())!),
        reps: int("reps", values.reps) ?? 1,
        capS: int("cap-s", values["cap-s"]) ?? (smoke ? 90 : 120),
        seedCapS: smoke && values["cap-s"] === undefined ? 3 : null,
        warmUp: !smoke,
        subsetDocs: smoke && values.scales === undefined ? 60 : null,
        contenders: list("contenders", values.contenders, graphContenders, graphContenders),
        handBatch: int("hand-batch", values["hand-batch"]) ?? 10000,
        baselineRoot: values.baseline ?? null,
        json: values.json ?? null
      })
      return
    case "vectors":
      await vectorsBench({
        scales: (values.scales ?? (smoke ? "1" : "1,10")).split(",").map((s) => int("scales", s.trim())!),
        reps: int("reps", values.reps) ?? (smoke ? 1 : 2),
        capS: int("cap-s", values["cap-s"]) ?? (smoke ? 30 : 120),
        contenders: list("contenders", values.contenders, vectorContenders, vectorContenders),
        dim: int("dim", values.dim) ?? 384,
        rows: int("rows", values.rows) ?? (smoke ? 256 : null),
        json: values.json ?? null
      })
      return
    case "cluster":
      await clusterBench({
        scale: int("scale", values.scale) ?? 1,
        reps: int("reps", values.reps) ?? 1,
        ranges: int("ranges", values.ranges) ?? (smoke ? 4 : 8),
        model: values.model ?? smokeModel,
        steps: list("steps", values.steps, ["embed", "graph"] as const, smoke ? ["embed"] : ["embed", "graph"]),
        docs: smoke ? 20 : null,
        capS: int("cap-s", values["cap-s"]) ?? (smoke ? 120 : 900),
        json: values.json ?? null
      })
      return
    case "e2e":
      await e2eBench({
        reps: int("reps", values.reps) ?? (smoke ? 1 : 2),
        threads: int("threads", values.threads) ?? 2,
        model: values.model ?? smokeModel,
        docs: smoke ? 20 : null,
        capS: int("cap-s", values["cap-s"]) ?? (smoke ? 120 : 900),
        json: values.json ?? null
      })
      return
    case "reads":
      await readsBench({
        scales: (values.scales ?? (smoke ? "1" : "1,10")).split(",").map((s) => int("scales", s.trim())!),
        sources: values.sources === undefined ? null : values.sources.split(",").map((s) => s.trim()),
        methods: list("methods", values.methods, readMethods, readMethods),
        pageSize: int("page-size", values["page-size"]) ?? 1000,
        capS: int("cap-s", values["cap-s"]) ?? (smoke ? 10 : 120),
        json: values.json ?? null
      })
      return
    case "large":
      await largeBench({
        modelDir: values["model-dir"] ?? null,
        batches: int("batches", values.batches) ?? 3,
        reps: int("reps", values.reps) ?? 2,
        seq: int("seq", values.seq) ?? 256,
        rows: int("rows", values.rows) ?? 4,
        threads: int("threads", values.threads),
        passages: int("passages", values.passages) ?? 973,
        meanTokens: int("mean-tokens", values["mean-tokens"]),
        json: values.json ?? null
      })
      return
    default:
      throw new Error(`unknown command ${command}\n${USAGE}`)
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(1)
  }
)
