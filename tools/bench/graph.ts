/**
 * `npm run bench -- graph`: batch-v1's graph sync by three contenders on the same corpus and the
 * same Neo4j, interleaved, the graph emptied and every constraint dropped before each run:
 *
 *   seed    the seed plan's method (UNWIND 500, MERGE without constraints), graph-contenders.ts
 *   hand    a hand-tuned script (constraints first, large batches, MATCH on constrained keys)
 *   runner  `run --pipeline=batch-v1 --only sync_graph` (the CLI, a child process)
 *
 * Every contender is a child process, capped at --cap-s (a capped run counts as "> cap"), its wall
 * time including process start-up. Neo4j is a private instance started for the benchmark (the
 * stack's launcher and heap, another home and port), so the stack's graph is never touched.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import type { ContenderConfig } from "./graph-contenders.ts"
import { graphCounts, openDriver, resetGraph, serverCpu, timedNode } from "./graph-harness.ts"
import type { ChildRun } from "./graph-harness.ts"
import { withClient } from "../fixtures/src/pgClient.ts"
import { cpuFlags, ensureBenchDatabase, log, machine, machineLoad, median, repoRoot, runnerMain, round, stackDsn, table } from "./common.ts"
import { startPrivateNeo4j } from "./memory.ts"

export const graphContenders = ["seed", "hand", "runner", "baseline"] as const
export type GraphContender = (typeof graphContenders)[number]

export interface GraphBenchOptions {
  readonly scales: ReadonlyArray<number>
  readonly reps: number
  readonly capS: number
  readonly contenders: ReadonlyArray<GraphContender>
  readonly handBatch: number
  /** A checkout whose runner is the `baseline` contender (before/after a change, in one run). */
  readonly baselineRoot: string | null
  /** The seed's own cap (a smoke run stops it early: it only has to show that it still runs); null: capS. */
  readonly seedCapS: number | null
  /** The untimed warm-up run of each contender (off in a smoke run). */
  readonly warmUp: boolean
  /**
   * A smoke run: a database of its own (polymath_bench_smoke, recreated) with the scale-1 corpus cut
   * to the first N documents with batch-v1 passages (about N/740 of scale 1), in place of `scales`.
   */
  readonly subsetDocs: number | null
  readonly json: string | null
}

const capFor = (o: GraphBenchOptions, c: GraphContender): number => (c === "seed" && o.seedCapS !== null ? o.seedCapS : o.capS)

interface Run extends ChildRun {
  readonly contender: GraphContender
  readonly scale: number
  readonly rep: number
  readonly nodes: number
  readonly relationships: number
  /** Share of the whole machine's CPU that was busy during the run (all processes). */
  readonly machineBusy: number
  readonly neo4jCpuS: number | null
  readonly postgresCpuS: number | null
}

/** The stack's postmaster (the bench databases live there), for its CPU time. */
export const postmasterPid = (): number | null => {
  try {
    return Number(readFileSync(join(process.env["POLYMATH_BENCH_PGDATA"] ?? join(repoRoot, ".stack/pg/data"), "postmaster.pid"), "utf8").split("\n")[0])
  } catch {
    return null
  }
}

const databaseFor = (scale: number): string => (scale === 1 ? "polymath_bench" : `polymath_bench${scale}`)

const runContender = (contender: GraphContender, dsn: string, uri: string, o: GraphBenchOptions): Promise<ChildRun> => {
  if (contender === "runner" || contender === "baseline") {
    const report = join(mkdtempSync(join(tmpdir(), "polymath-bench-graph-")), "report.json")
    const root = contender === "baseline" ? o.baselineRoot! : repoRoot
    return timedNode(
      [...(contender === "baseline" ? runnerMain(root, "POLYMATH_BENCH_BASELINE_FLAGS") : runnerMain(root)), "run", "--pipeline=batch-v1", "--set", "model=bge-small-en-v1.5", "--only", "sync_graph", "--no-resume", "--json", report],
      { ...process.env, POSTGRES_DSN: dsn, NEO4J_URI: uri, NEO4J_USER: "neo4j", NEO4J_PASSWORD: "" },
      root,
      capFor(o, contender)
    )
  }
  const config: ContenderConfig = { dsn, neo4jUri: uri, neo4jUser: "neo4j", neo4jPassword: "", extractorVersion: "batch-v1", handBatch: o.handBatch }
  return timedNode([join(repoRoot, "tools/bench/graph-child.ts"), contender], { ...process.env, POLYMATH_BENCH_GRAPH: JSON.stringify(config) }, repoRoot, capFor(o, contender))
}

const fmtS = (r: ReadonlyArray<Run>, capS: number): string => {
  if (r.length === 0) return "-"
  const s = median(r.map((x) => (x.capped ? capS : x.seconds)))
  return r.some((x) => x.capped) ? `> ${capS}` : s.toFixed(2)
}

/** The scale-1 corpus cut to the first `docs` documents with batch-v1 passages, in a database recreated for it. */
const subsetDatabase = async (docs: number): Promise<string> => {
  await withClient(stackDsn(), (c) => c.query("DROP DATABASE IF EXISTS polymath_bench_smoke WITH (FORCE)"))
  const dsn = await ensureBenchDatabase("polymath_bench_smoke", 1, 384)
  await withClient(dsn, async (c) => {
    await c.query(`CREATE TEMP TABLE keep AS SELECT DISTINCT p.doc_id FROM passages p JOIN passage_concepts pc ON pc.passage_id = p.passage_id
                   AND pc.extractor_version = 'batch-v1' ORDER BY p.doc_id LIMIT ${Math.trunc(docs)}`)
    await c.query("DELETE FROM passage_concepts pc USING passages p WHERE p.passage_id = pc.passage_id AND p.doc_id NOT IN (SELECT doc_id FROM keep)")
    await c.query("DELETE FROM passages WHERE doc_id NOT IN (SELECT doc_id FROM keep)")
    await c.query("DELETE FROM documents WHERE doc_id NOT IN (SELECT doc_id FROM keep)")
  })
  log(`smoke: the scale-1 corpus cut to ${docs} documents in polymath_bench_smoke`)
  return dsn
}

export const graphBench = async (o: GraphBenchOptions): Promise<void> => {
  const info = machine()
  const dsns = new Map<number, string>()
  if (o.subsetDocs !== null) dsns.set(1, await subsetDatabase(o.subsetDocs))
  else for (const scale of o.scales) dsns.set(scale, await ensureBenchDatabase(databaseFor(scale), scale, 384))
  // The stack's heap limit, allocated up front: a heap growing from 256 MiB during the first large
  // run made that run cost Neo4j up to 3x the CPU of the same run later.
  const neo = await startPrivateNeo4j({ fixedHeap: true })
  const driver = await openDriver(neo.uri, "neo4j", "")
  const runs: Array<Run> = []
  try {
    // Neo4j compiles each statement and the JVM its code paths on first use: an untimed run of
    // every contender but the seed (slow, and it shares nothing with the others) on the scale-1
    // corpus keeps that out of the first timed runs (a first runner run measured 44 Neo4j CPU-s, the next 14).
    const warm = o.scales.includes(1) ? dsns.get(1)! : await ensureBenchDatabase(databaseFor(1), 1, 384)
    for (const c of o.warmUp ? o.contenders.filter((c) => c !== "seed" && (c !== "baseline" || o.baselineRoot !== null)) : []) {
      log(`warm-up: ${c} at scale 1 (not counted)`)
      await resetGraph(driver)
      await runContender(c, warm, neo.uri, o)
    }
    for (const scale of o.scales) {
      for (let rep = 1; rep <= o.reps; rep++) {
        // Alternate the order so no contender always runs first (or right after the JVM's last GC).
        const active = o.contenders.filter((c) => c !== "baseline" || o.baselineRoot !== null)
        const order = rep % 2 === 1 ? active : [...active].reverse()
        for (const contender of order) {
          await resetGraph(driver)
          const busy = machineLoad()
          const load1 = loadavg()[0]!
          const neoCpu = serverCpu(neo.pid, false)
          const pgCpu = serverCpu(postmasterPid(), true)
          const r = await runContender(contender, dsns.get(scale)!, neo.uri, o)
          const [neo4jCpuS, postgresCpuS] = [neoCpu(), pgCpu()]
          const counts = await graphCounts(driver)
          const run: Run = { ...r, contender, scale, rep, ...counts, machineBusy: busy(), neo4jCpuS, postgresCpuS }
          if (!r.capped && r.exitCode !== 0) throw new Error(`${contender} at scale ${scale} failed (exit ${r.exitCode}): ${r.stderrTail}`)
          runs.push(run)
          log(`scale ${scale} rep ${rep} ${contender}: ${r.capped ? `> ${capFor(o, contender)} s (capped at ${r.lastProgress ?? "?"})` : `${r.seconds.toFixed(2)} s`}, ${counts.nodes} nodes, ${counts.relationships} rels, peak RSS ${r.peakRssMb ?? "?"} MiB, CPU-s own ${r.cpuS ?? "?"} neo4j ${neo4jCpuS ?? "?"} pg ${postgresCpuS ?? "?"}, load1 ${load1.toFixed(2)}, machine busy ${(run.machineBusy * 100).toFixed(0)}%`)
        }
      }
    }
  } finally {
    await driver.close()
    await neo.stop()
  }
  report(o, runs, info)
}

const report = (o: GraphBenchOptions, runs: ReadonlyArray<Run>, info: ReturnType<typeof machine>): void => {
  const rows: Array<Array<string>> = []
  const contenders = o.contenders.filter((c) => c !== "baseline" || o.baselineRoot !== null)
  const perScale: Record<string, unknown> = {}
  for (const scale of o.scales) {
    const of = (c: GraphContender) => runs.filter((r) => r.scale === scale && r.contender === c)
    const secs = (c: GraphContender) => median(of(c).map((r) => (r.capped ? capFor(o, c) : r.seconds)))
    const capped = (c: GraphContender) => of(c).some((r) => r.capped)
    // A full run writes the whole graph; a capped one is measured against what a full one wrote.
    const full = runs.find((r) => r.scale === scale && !r.capped)
    const entry: Record<string, Record<string, number | boolean | null>> = { seconds: {}, capped: {}, nodes_per_s: {}, relationships_per_s: {}, peak_rss_mb: {} }
    const cpu: Record<string, Record<string, number | null>> = {}
    for (const c of contenders) {
      const rs = of(c)
      if (rs.length === 0) continue
      const s = secs(c)
      const nodes = median(rs.map((r) => r.nodes))
      const rels = median(rs.map((r) => r.relationships))
      const rss = median(rs.flatMap((r) => (r.peakRssMb === null ? [] : [r.peakRssMb])))
      entry["seconds"]![c] = round(s, 2)
      entry["capped"]![c] = capped(c)
      entry["nodes_per_s"]![c] = round(nodes / s, 0)
      entry["relationships_per_s"]![c] = round(rels / s, 0)
      entry["peak_rss_mb"]![c] = Number.isFinite(rss) ? round(rss, 0) : null
      cpu[c] = { own: num(rs.map((r) => r.cpuS)), neo4j: num(rs.map((r) => r.neo4jCpuS)), postgres: num(rs.map((r) => r.postgresCpuS)) }
      const partial = capped(c) && full !== undefined ? ` (${nodes} of ${full.nodes} nodes, ${rels} of ${full.relationships} rels)` : ""
      rows.push([
        `scale ${scale} ${c}`,
        `${nodes} / ${rels}`,
        fmtS(rs, capFor(o, c)) + partial,
        `${capped(c) ? "< " : ""}${round(nodes / s, 0)}`,
        `${capped(c) ? "< " : ""}${round(rels / s, 0)}`,
        Number.isFinite(rss) ? rss.toFixed(0) : "-",
        cpuCell(rs),
        `${rs.length}`,
        rs.map((r) => `${loadOf(r)}`).join(", ")
      ])
    }
    const ratio = (other: GraphContender) => (of("runner").length > 0 && of(other).length > 0 && !capped("runner") ? round(secs(other) / secs("runner"), 2) : null)
    perScale[String(scale)] = {
      ...entry,
      cpu_s_median: cpu,
      runner_vs_seed: ratio("seed"),
      runner_vs_seed_is_lower_bound: capped("seed"),
      runner_vs_hand: ratio("hand"),
      runner_vs_baseline: ratio("baseline"),
      runs: runs.filter((r) => r.scale === scale).map(({ stderrTail: _t, ...r }) => ({ ...r, seconds: round(r.seconds, 2), machineBusy: round(r.machineBusy, 2) }))
    }
  }
  const text = table(["contender", "nodes / rels written", "wall s (median)", "nodes/s", "rels/s", "peak RSS MiB", "CPU-s own / neo4j / pg", "runs", "machine busy %"], rows)
  const ratioRows = o.scales.map((s) => {
    const e = perScale[String(s)] as { runner_vs_seed: number | null; runner_vs_seed_is_lower_bound: boolean; runner_vs_hand: number | null }
    const e2 = e as typeof e & { runner_vs_baseline: number | null }
    return [`scale ${s}`, e.runner_vs_seed === null ? "-" : `${e.runner_vs_seed_is_lower_bound ? "> " : ""}${e.runner_vs_seed}x`, e.runner_vs_hand === null ? "-" : `${e.runner_vs_hand}x`, ...(o.baselineRoot === null ? [] : [e2.runner_vs_baseline === null ? "-" : `${e2.runner_vs_baseline}x`])]
  })
  const ratios = table(["scale", "runner vs seed (seed s / runner s)", "runner vs hand-tuned (hand s / runner s)", ...(o.baselineRoot === null ? [] : ["runner vs baseline (baseline s / runner s)"])], ratioRows)
  const flags = cpuFlags()
  process.stdout.write(`\n${text}\n\n${ratios}\n\n${cpus()[0]?.model ?? "?"}, ${info.cores} cores; load average at start ${info.loadavg_start.join(" ")}; flags: ${flags}\n`)
  if (o.json !== null) {
    writeFileSync(o.json, JSON.stringify({ benchmark: "graph", options: o, runner_node_flags: runnerMain().slice(0, -1), machine: { ...info, cpu_flags: flags, loadavg_end: loadavg().map((x) => round(x, 2)) }, scales: perScale, table: text, ratios }, null, 2) + "\n")
    log(`wrote ${o.json}`)
  }
}

const num = (xs: ReadonlyArray<number | null>): number | null => {
  const v = xs.filter((x): x is number => x !== null)
  return v.length === 0 ? null : round(median(v), 2)
}

const medianOf = (xs: ReadonlyArray<number | null>): string => {
  const v = xs.filter((x): x is number => x !== null)
  return v.length === 0 ? "?" : median(v).toFixed(1)
}

/** Median CPU seconds of the contender itself, of Neo4j and of Postgres over its runs. */
const cpuCell = (rs: ReadonlyArray<Run>): string => `${medianOf(rs.map((r) => r.cpuS))} / ${medianOf(rs.map((r) => r.neo4jCpuS))} / ${medianOf(rs.map((r) => r.postgresCpuS))}`

const loadOf = (r: Run): string => (Number.isFinite(r.machineBusy) ? (r.machineBusy * 100).toFixed(0) : "?")
