/**
 * `npm run bench -- search`: the quality and speed of `polymath search`, in one run.
 *
 * - Scale 1 (the demo corpus in its own database, embedded by the pipeline's own embed step
 *   with the test model): for each topic of the corpus generator, a query built from the
 *   topic's vocabulary; precision@10 = the share of the 10 hits whose passage is of that topic
 *   (a passage's topic is known: its topic phrase is in its text and in no other topic's).
 * - Scale 100 (about 97k passages; embedding them takes hours on 2 cores, so their vectors
 *   are perturbed copies of real scale-1 vectors, and the table says so): recall@10 of the
 *   HNSW index against the exact scan, and warm query latency (embed, kNN, graph expansion,
 *   whole query) p50 / p95 through the engine's search, index and exact side by side. The
 *   expansion reads the scale-100 graph, synced by the runner into a private Neo4j.
 */
import { spawnSync } from "node:child_process"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { ConfigProvider, Effect, Layer } from "effect"
import type { Scope } from "effect"
import { loadPipeline } from "@polymath/dsl"
import { makeEmbedderFactory } from "@polymath/embeddings"
import { compile, compileSearch, Connectors, Embedders, runSearch, SearchError } from "@polymath/engine"
import type { Embedder, SearchResult } from "@polymath/engine"
import { connectorsLayer } from "../../apps/runner/src/Connections.ts"
import { TOPICS } from "../fixtures/src/topics.ts"
import { queryRows, withClient } from "../fixtures/src/pgClient.ts"
import { cpuFlags, dsnWithDatabase, ensureBenchDatabase, log, machine, machineLoad, median, nodeBin, repoRoot, runnerMain, round, stackDsn, table } from "./common.ts"
import { startPrivateNeo4j } from "./memory.ts"

export interface SearchBenchOptions {
  readonly model: string
  readonly reps: number
  readonly recallQueries: number
  readonly noise: number
  readonly graph: boolean
  readonly json: string | null
}

const k = 10

/** A query about a topic in the topic's words, without its phrase: a reader's question, not a copy of a passage. */
const topicQuery = (t: (typeof TOPICS)[number]): string => `${t.problems[0]} and ${t.problems[1]} using ${t.methods[0]} or ${t.methods[1]}`

/** Runs the runner CLI (the pipeline's own steps) on a bench database; fails the bench when it fails. */
const runner = (args: ReadonlyArray<string>, env: Record<string, string>) => {
  const r = spawnSync(nodeBin, [...runnerMain(), ...args], { cwd: repoRoot, env: { ...process.env, POLYMATH_PROFILE: "/dev/null", ...env }, stdio: ["ignore", "ignore", "pipe"] })
  if (r.status !== 0 && r.status !== 4) throw new Error(`runner ${args.join(" ")} exited ${r.status}: ${String(r.stderr).slice(-2000)}`)
}

/** The search as the CLI resolves it, against a given database and Neo4j. */
const searchPlan = (env: Record<string, string>, model: string) =>
  Effect.gen(function*() {
    const loaded = yield* loadPipeline("batch-v1", { set: [`model=${model}`], pipelinesDir: join(repoRoot, "pipelines") })
    const plan = compileSearch(loaded, compile(loaded), "passages")
    if (plan instanceof SearchError) return yield* plan
    return plan
  }).pipe(Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env: { ...process.env, ...env } as Record<string, string> })))

const percentile = (xs: ReadonlyArray<number>, p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!
}

/** The topic of each embedded batch-v1 passage of a database, from its text. */
const topicsOf = (dsn: string, model: string) =>
  withClient(dsn, async (c) => {
    const rows = await queryRows<{ id: string; text: string }>(c, "SELECT passage_id::text AS id, passage_text AS text FROM passages WHERE embedding IS NOT NULL AND embedding_model = $1", [model])
    return new Map(rows.map((r) => [r.id, TOPICS.findIndex((t) => r.text.includes(t.phrase))]))
  })

/** Scale 1: embeds the batch-v1 passages with the pipeline (fresh ones are skipped), then one query per topic. */
const precisionAtScale1 = (o: SearchBenchOptions) =>
  Effect.gen(function*() {
    const dsn = yield* Effect.promise(() => ensureBenchDatabase("polymath_bench_search", 1, 384))
    const env = { POSTGRES_DSN: dsn }
    log("scale 1: embedding the batch-v1 passages with the pipeline's embed step (fresh vectors are kept)")
    runner(["run", "--pipeline=batch-v1", "--only", "embed_passages", "--set", `model=${o.model}`, "--no-verify"], env)
    const topicOf = yield* Effect.promise(() => topicsOf(dsn, o.model))
    const plan = yield* searchPlan(env, o.model)
    const noGraph = { ...plan, graph: null }
    const rows: Array<{ topic: string; passages: number; precision: number; query: string }> = []
    yield* Effect.scoped(Effect.gen(function*() {
      const embedder = yield* (yield* Embedders).load(o.model)
      for (const [i, t] of TOPICS.entries()) {
        const result = yield* runSearch(noGraph, { query: topicQuery(t), k, filters: [], via: [], exact: true }, embedder)
        const relevant = [...topicOf.values()].filter((x) => x === i).length
        const hits = result.hits.filter((h) => topicOf.get(h.key) === i).length
        // A topic with fewer than 10 passages can fill only that many of the 10 places.
        rows.push({ topic: t.key, passages: relevant, precision: hits / Math.min(k, relevant), query: topicQuery(t) })
      }
    })).pipe(Effect.provide(connectorsLayer(noGraph)))
    return rows
  })

/** Scale 100: perturbed copies of the scale-1 vectors in every passage, an HNSW index, the graph synced into a private Neo4j. */
const prepareScale100 = (o: SearchBenchOptions, neo4jUri: string | null) =>
  Effect.promise(async () => {
    const dsn = await ensureBenchDatabase("polymath_bench_search100", 100, 384)
    const source = dsnWithDatabase(stackDsn(), "polymath_bench_search")
    await withClient(dsn, async (c) => {
      const [state] = await queryRows<{ total: number; perturbed: number }>(c, "SELECT count(*)::int AS total, count(*) FILTER (WHERE embedding_model = $1 AND embedding IS NOT NULL)::int AS perturbed FROM passages", [o.model])
      if (state!.perturbed === state!.total) return
      log(`scale 100: filling ${state!.total} passages with perturbed copies of the scale-1 vectors (noise ${o.noise} per dimension, renormalized)`)
      const base = await withClient(source, (s) => queryRows<{ v: string }>(s, "SELECT embedding::text AS v FROM passages WHERE embedding IS NOT NULL AND embedding_model = $1 ORDER BY passage_id", [o.model]))
      await c.query("DROP TABLE IF EXISTS bench_base")
      await c.query("CREATE TABLE bench_base (i int PRIMARY KEY, v vector(384))")
      await c.query("INSERT INTO bench_base SELECT i - 1, v::vector FROM unnest($1::text[]) WITH ORDINALITY AS t(v, i)", [base.map((b) => b.v)])
      await c.query("DROP INDEX IF EXISTS passages_embedding_hnsw_cosine_idx")
      // The noise subquery names pick.i so Postgres runs it once per row, not once for all.
      await c.query(
        `UPDATE passages p SET embedding = l2_normalize(b.v + n.noise), embedding_model = $3
           FROM (SELECT passage_id, (abs(hashtext(passage_id::text)) % $1) AS i FROM passages) pick
           JOIN bench_base b ON b.i = pick.i
           CROSS JOIN LATERAL (SELECT array_agg((random() - 0.5) * $2 * 2)::vector(384) AS noise FROM generate_series(1, 384 + pick.i * 0)) n
          WHERE p.passage_id = pick.passage_id`,
        [base.length, o.noise, o.model]
      )
    })
    await withClient(dsn, async (c) => {
      const [exists] = await queryRows<{ n: number }>(c, "SELECT count(*)::int AS n FROM pg_indexes WHERE indexname = 'passages_embedding_hnsw_cosine_idx'")
      if (exists!.n === 0) {
        log("scale 100: building the HNSW index (m 16, ef_construction 64, cosine) as the pipeline declares it")
        await c.query("SET maintenance_work_mem = '512MB'")
        await c.query("CREATE INDEX passages_embedding_hnsw_cosine_idx ON passages USING hnsw (embedding vector_cosine_ops)")
      }
      await c.query("ANALYZE passages")
    })
    if (neo4jUri !== null) {
      log("scale 100: syncing the graph with the runner into the private Neo4j (minutes)")
      runner(["run", "--pipeline=batch-v1", "--only", "sync_graph", "--set", `model=${o.model}`, "--no-verify"], { POSTGRES_DSN: dsn, NEO4J_URI: neo4jUri, NEO4J_USER: "neo4j", NEO4J_PASSWORD: "" })
    }
    return dsn
  })

interface LatencyRow {
  readonly mode: "hnsw" | "exact"
  readonly embed: ReadonlyArray<number>
  readonly knn: ReadonlyArray<number>
  readonly expand: ReadonlyArray<number>
  readonly whole: ReadonlyArray<number>
}

/** Recall@10 of the index against the exact scan, and warm latencies of whole queries, both modes interleaved. */
const recallAndLatency = (o: SearchBenchOptions, dsn: string, neo4jUri: string | null) =>
  Effect.gen(function*() {
    const env = { POSTGRES_DSN: dsn, NEO4J_URI: neo4jUri ?? "bolt://127.0.0.1:1", NEO4J_USER: "neo4j", NEO4J_PASSWORD: "" }
    const plan0 = yield* searchPlan(env, o.model)
    const plan = neo4jUri === null ? { ...plan0, graph: null, connections: plan0.connections.filter((c) => c.kind === "postgres") } : plan0
    return yield* Effect.scoped(Effect.gen(function*() {
      const embedder: Embedder = yield* (yield* Embedders).load(o.model)
      const store = (yield* Connectors).sql.get(plan.targetConnection)!
      // Recall: query vectors are stored vectors of random passages (the nearest is itself, the rest are its perturbed siblings and their neighbours).
      const queries = yield* Effect.promise(() =>
        withClient(dsn, (c) => queryRows<{ v: string }>(c, "SELECT embedding::text AS v FROM passages TABLESAMPLE BERNOULLI (1) REPEATABLE (7) LIMIT $1", [o.recallQueries]))
      )
      let recall = 0
      for (const q of queries) {
        const vector = Float32Array.from(JSON.parse(q.v) as Array<number>)
        const ask = (exact: boolean) => store.nearest({ target: plan.target, metric: plan.metric, vector, k, columns: [], filters: [], keys: null, exact })
        const approx = new Set((yield* ask(false)).map((r) => r.key))
        const exact = yield* ask(true)
        recall += exact.filter((r) => approx.has(r.key)).length / exact.length
      }
      const latency: Record<"hnsw" | "exact", { embed: Array<number>; knn: Array<number>; expand: Array<number>; whole: Array<number> }> = {
        hnsw: { embed: [], knn: [], expand: [], whole: [] },
        exact: { embed: [], knn: [], expand: [], whole: [] }
      }
      const texts = TOPICS.map(topicQuery)
      // One warm-up query each, not measured: the first touches cold pages and compiles.
      for (const exact of [false, true]) yield* runSearch(plan, { query: texts[0]!, k, filters: [], via: [], exact }, embedder)
      for (let r = 0; r < o.reps; r++) {
        for (const exact of [false, true]) {
          const t0 = performance.now()
          const result: SearchResult = yield* runSearch(plan, { query: texts[r % texts.length]!, k, filters: [], via: [], exact }, embedder)
          const m = latency[exact ? "exact" : "hnsw"]
          m.whole.push(performance.now() - t0)
          m.embed.push(result.timings.embed_ms)
          m.knn.push(result.timings.knn_ms)
          m.expand.push(result.timings.expand_ms)
        }
      }
      const rows: Array<LatencyRow> = (["hnsw", "exact"] as const).map((mode) => ({ mode, ...latency[mode] }))
      return { recall: recall / queries.length, queries: queries.length, rows }
    })).pipe(Effect.provide(connectorsLayer(plan)))
  })

export const searchBench = async (o: SearchBenchOptions): Promise<void> => {
  const load = machineLoad()
  const info = machine()
  const factory = await Effect.runPromise(makeEmbedderFactory())
  const withModels = <A, E>(e: Effect.Effect<A, E, Embedders | Scope.Scope>) =>
    Effect.runPromise(Effect.scoped(e).pipe(Effect.provide(Layer.succeed(Embedders, factory))))
  const precision = await withModels(precisionAtScale1(o))
  const neo4j = o.graph ? await startPrivateNeo4j() : null
  try {
    const dsn100 = await withModels(prepareScale100(o, neo4j?.uri ?? null))
    const scale100 = await withModels(recallAndLatency(o, dsn100, neo4j?.uri ?? null))
    const meanPrecision = precision.reduce((a, r) => a + r.precision, 0) / precision.length
    console.log(`\nsearch benchmark, ${info.cores} cores (${info.cpu}), CPU flags: ${cpuFlags()}, machine busy ${round(load() * 100, 0)}% during the run`)
    console.log(`\nScale 1 (demo corpus, ${o.model}, exact kNN): precision@10 per topic, query = two of the topic's problems and methods`)
    console.log(table(["topic", "passages", "precision@10"], precision.map((r) => [r.topic, String(r.passages), r.precision.toFixed(2)])))
    console.log(`mean precision@10: ${meanPrecision.toFixed(3)} (target >= 0.9)`)
    console.log(`\nScale 100 (vectors: perturbed copies of scale-1 vectors, uniform noise ±${o.noise} per dimension, renormalized; not real embeddings)`)
    console.log(`HNSW recall@10 vs exact scan over ${scale100.queries} stored-vector queries: ${scale100.recall.toFixed(3)} (target >= 0.95)`)
    const ms = (xs: ReadonlyArray<number>) => `${round(percentile(xs, 50), 1)} / ${round(percentile(xs, 95), 1)}`
    console.log(`warm query latency, ms p50 / p95 over ${o.reps} queries each (interleaved), graph expansion ${neo4j === null ? "not run (--no-graph)" : "on the scale-100 graph"}:`)
    console.log(table(["kNN", "embed", "kNN", "expand", "whole query"], scale100.rows.map((r) => [r.mode, ms(r.embed), ms(r.knn), ms(r.expand), ms(r.whole)])))
    const [hnsw, exact] = scale100.rows
    console.log(`exact scan / HNSW, kNN median: ${round(median(exact!.knn) / median(hnsw!.knn), 1)}x`)
    if (o.json !== null) {
      writeFileSync(o.json, JSON.stringify({
        benchmark: "search",
        machine: { ...info, cpu_flags: cpuFlags() },
        model: o.model,
        precision_at_10: round(meanPrecision, 4),
        precision_by_topic: precision,
        hnsw_recall_at_10: round(scale100.recall, 4),
        recall_queries: scale100.queries,
        p50_ms: round(percentile(hnsw!.whole, 50), 1),
        p95_ms: round(percentile(hnsw!.whole, 95), 1),
        latency_ms: Object.fromEntries(scale100.rows.map((r) => [r.mode, { embed: r.embed, knn: r.knn, expand: r.expand, whole: r.whole }])),
        scale_100_vectors: `perturbed copies of scale-1 vectors (noise ${o.noise})`,
        graph_expansion: neo4j !== null
      }, null, 2))
      log(`wrote ${o.json}`)
    }
  } finally {
    await neo4j?.stop()
  }
}
