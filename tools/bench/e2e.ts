/**
 * npm run bench -- e2e: batch-v1 end to end (embed the passages, write their vectors, sync the
 * graph), by the seed's method (e2e-seed.ts: Python embedding in fixed batches of 32, UPDATE +
 * COMMIT per row, the plan's graph sync) and by the runner (`run --pipeline=batch-v1 --force`, its
 * checks included), each a child process on the same corpus, interleaved, with the vectors cleared,
 * the graph emptied and every constraint and index dropped before each run.
 */
import { writeFileSync } from "node:fs"
import { loadavg } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { makeEmbedderFactory } from "@polymath/embeddings"
import { queryRows, withClient } from "../fixtures/src/pgClient.ts"
import { cpuFlags, cutCorpus, ensureBenchDatabase, log, machine, machineLoad, median, repoRoot, runnerMain, restoreCorpus, round, saveOriginalTexts, stackDsn, table } from "./common.ts"
import type { SeedE2eConfig } from "./e2e-seed.ts"
import { postmasterPid } from "./graph.ts"
import { graphCounts, openDriver, resetGraph, serverCpu, timedNode } from "./graph-harness.ts"
import type { ChildRun } from "./graph-harness.ts"
import { startPrivateNeo4j } from "./memory.ts"
import { ensurePythonVenv } from "./python-venv.ts"

export interface E2eBenchOptions {
  readonly reps: number
  readonly model: string
  /** Intra-op threads for both contenders (the runner's POLYMATH_EMBED_THREADS, Python's session). */
  readonly threads: number
  /** Only the first N documents of the scale-1 corpus (the smoke's cut); null: all. */
  readonly docs: number | null
  readonly capS: number
  readonly json: string | null
}

const contenders = ["seed", "runner"] as const
type Contender = (typeof contenders)[number]

interface Run {
  readonly contender: Contender
  readonly rep: number
  readonly child: ChildRun
  readonly vectors: number
  readonly nodes: number
  readonly relationships: number
  readonly neo4jCpuS: number | null
  readonly postgresCpuS: number | null
  readonly busy: number
}

export const e2eBench = async (o: E2eBenchOptions): Promise<void> => {
  const info = machine()
  // Before anything slow: a missing python3 fails here, in one line.
  const python = ensurePythonVenv()
  const factory = await Effect.runPromise(makeEmbedderFactory())
  const entry = await Effect.runPromise(factory.registry.lookup(o.model))
  const database = o.docs === null ? "polymath_bench" : "polymath_bench_e2e_smoke"
  if (o.docs !== null) await withClient(stackDsn(), (c) => c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`))
  const dsn = await ensureBenchDatabase(database, 1, entry.dimensions)
  if (o.docs !== null) await cutCorpus(dsn, o.docs)
  await saveOriginalTexts(dsn)
  const neo = await startPrivateNeo4j({ fixedHeap: true })
  const driver = await openDriver(neo.uri, "neo4j", "")
  const seedConfig: SeedE2eConfig = {
    dsn, neo4jUri: neo.uri, python, script: join(repoRoot, "tools/bench/embed_reference.py"),
    onnx: entry.files.onnx, tokenizer: entry.files.tokenizer, dimensions: entry.dimensions, threads: o.threads, model: o.model
  }
  const env = { ...process.env, POSTGRES_DSN: dsn, NEO4J_URI: neo.uri, NEO4J_USER: "neo4j", NEO4J_PASSWORD: "", POLYMATH_EMBED_THREADS: String(o.threads), POLYMATH_EP: "cpu" }
  const launch = (contender: Contender): Promise<ChildRun> =>
    contender === "seed"
      ? timedNode([join(repoRoot, "tools/bench/e2e-seed.ts")], { ...env, POLYMATH_BENCH_E2E: JSON.stringify(seedConfig) }, repoRoot, o.capS)
      : timedNode([...runnerMain(), "run", "--pipeline=batch-v1", "--set", `model=${o.model}`, "--no-resume", "--force"], env, repoRoot, o.capS)
  const vectorCount = () =>
    withClient(dsn, async (c) =>
      Number((await queryRows(c, "SELECT count(*)::int AS n FROM passages p JOIN bench_texts b USING (passage_id) WHERE p.embedding IS NOT NULL"))[0]!["n"]))
  const runs: Array<Run> = []
  try {
    // Neo4j compiles and JITs the statements it sees first (the first run cost it 3x the CPU): one
    // untimed run of each contender first, as in `bench graph` (left out of a smoke run).
    if (o.docs === null) {
      for (const contender of contenders) {
        log(`warm-up: ${contender} (not counted)`)
        await restoreCorpus(dsn)
        await resetGraph(driver)
        const warm = await launch(contender)
        if (warm.exitCode !== 0) throw new Error(`${contender} failed in its warm-up (exit ${warm.exitCode}):\n${warm.stderrTail}`)
      }
    }
    for (let rep = 1; rep <= o.reps; rep++) {
      for (const contender of rep % 2 === 1 ? contenders : [...contenders].reverse()) {
        await restoreCorpus(dsn)
        await resetGraph(driver)
        const busy = machineLoad()
        const neoCpu = serverCpu(neo.pid, false)
        const pgCpu = serverCpu(postmasterPid(), true)
        const load1 = loadavg()[0]!
        const child = await launch(contender)
        const run: Run = {
          contender, rep, child, busy: busy(), neo4jCpuS: neoCpu(), postgresCpuS: pgCpu(),
          vectors: await vectorCount(), ...(await graphCounts(driver))
        }
        // A failed contender is a broken benchmark, not a number (the runner exits 0 only when its checks pass).
        if (child.exitCode !== 0 && !child.capped) throw new Error(`${contender} failed (exit ${child.exitCode}):\n${child.stderrTail}`)
        runs.push(run)
        log(`rep ${rep} ${contender}: ${child.capped ? `> ${o.capS} s (capped at ${child.lastProgress ?? "?"})` : `${child.seconds.toFixed(2)} s`}, ${run.vectors} vectors, ${run.nodes} nodes, ${run.relationships} rels, peak RSS ${child.peakRssMb ?? "?"} MiB, CPU-s own ${child.cpuS ?? "?"} neo4j ${run.neo4jCpuS ?? "?"} pg ${run.postgresCpuS ?? "?"}, load1 ${load1.toFixed(2)}, busy ${(run.busy * 100).toFixed(0)}%`)
      }
    }
  } finally {
    await driver.close()
    await neo.stop()
  }
  report(o, runs, info)
}

const report = (o: E2eBenchOptions, runs: ReadonlyArray<Run>, info: ReturnType<typeof machine>): void => {
  const of = (c: Contender) => runs.filter((r) => r.contender === c)
  const capped = (c: Contender) => of(c).some((r) => r.child.capped)
  const secs = (c: Contender) => median(of(c).map((r) => r.child.seconds))
  const cpu = (rs: ReadonlyArray<Run>, f: (r: Run) => number | null) => {
    const xs = rs.map(f).filter((x): x is number => x !== null)
    return xs.length === 0 ? "?" : round(median(xs), 1).toFixed(1)
  }
  const rows = contenders.map((c) => {
    const rs = of(c)
    const last = rs[rs.length - 1]!
    return [
      c, capped(c) ? `> ${o.capS}` : secs(c).toFixed(2), `${last.vectors} / ${last.nodes} / ${last.relationships}`,
      cpu(rs, (r) => r.child.peakRssMb), `${cpu(rs, (r) => r.child.cpuS)} / ${cpu(rs, (r) => r.neo4jCpuS)} / ${cpu(rs, (r) => r.postgresCpuS)}`,
      String(rs.length), rs.map((r) => (r.busy * 100).toFixed(0)).join(", ")
    ]
  })
  const ratio = round(secs("seed") / secs("runner"), 2)
  const ratioText = `${capped("seed") ? "> " : ""}${ratio}x`
  process.stdout.write(`
bench e2e: batch-v1 end to end on the scale-1 corpus${o.docs === null ? "" : ` cut to ${o.docs} documents`}, model ${o.model}, ${o.threads} intra-op thread(s) each
machine: ${info.cores} cores, ${info.cpu}, flags ${cpuFlags()}, load average at start ${info.loadavg_start.join(" ")}

${table(["contender", "wall s (median)", "vectors / nodes / rels", "peak RSS MiB", "CPU-s own / neo4j / pg", "runs", "machine busy %"], rows)}

runner vs seed (seed s / runner s): ${ratioText}
`)
  if (o.json !== null) {
    writeFileSync(o.json, JSON.stringify({
      machine: { ...info, flags: cpuFlags() }, options: o,
      seconds: { seed: round(secs("seed"), 2), runner: round(secs("runner"), 2) },
      seed_capped: capped("seed"), runner_vs_seed: ratio, runner_vs_seed_is_lower_bound: capped("seed"),
      peak_rss_mb: { seed: Number(cpu(of("seed"), (r) => r.child.peakRssMb)), runner: Number(cpu(of("runner"), (r) => r.child.peakRssMb)) },
      runs: runs.map((r) => ({ contender: r.contender, rep: r.rep, seconds: round(r.child.seconds, 2), capped: r.child.capped, cpu_s: r.child.cpuS, peak_rss_mb: r.child.peakRssMb, vectors: r.vectors, nodes: r.nodes, relationships: r.relationships, neo4j_cpu_s: r.neo4jCpuS, postgres_cpu_s: r.postgresCpuS, busy: r.busy }))
    }, null, 2))
    log(`wrote ${o.json}`)
  }
}
