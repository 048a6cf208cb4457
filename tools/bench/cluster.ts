/**
 * npm run bench -- cluster: batch-v1's embed step and graph step run distributed on 1 worker
 * and on 2 workers (worker processes on the loopback, one intra-op thread and one range at a
 * time each), side by side on one corpus, state reset before each run; then whether the stores
 * a 2-worker run leaves equal those of a single-process run (vectors as Postgres renders them,
 * every node and relationship with its properties but the run's stamps).
 */
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { createHash } from "node:crypto"
import { writeFileSync } from "node:fs"
import { loadavg } from "node:os"
import type { Driver } from "neo4j-driver"
import { withClient } from "../fixtures/src/pgClient.ts"
import { cpuFlags, cutCorpus, dsnWithDatabase, ensureBenchDatabase, freePort, log, machine, machineLoad, median, nodeBin, repoRoot, runnerMain, round, stackDsn, table } from "./common.ts"
import { postmasterPid } from "./graph.ts"
import { openDriver, resetGraph, serverCpu } from "./graph-harness.ts"
import { startPrivateNeo4j } from "./memory.ts"

export interface ClusterBenchOptions {
  readonly scale: number
  readonly reps: number
  readonly ranges: number
  readonly model: string
  readonly steps: ReadonlyArray<"embed" | "graph">
  /** Only the first N documents of the corpus (the smoke's cut). */
  readonly docs: number | null
  readonly json: string | null
  /** A distributed run still going after this many seconds is stopped and the benchmark fails. */
  readonly capS: number
}

const stepName = { embed: "embed_passages", graph: "sync_graph" } as const

interface Child {
  readonly child: ChildProcess
  readonly output: () => string
  readonly exited: Promise<number | null>
}

const launch = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Child => {
  const child = spawn(nodeBin, [...runnerMain(), ...args], { cwd: repoRoot, env, stdio: ["ignore", "pipe", "pipe"] })
  let output = ""
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()))
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()))
  return { child, output: () => output, exited: new Promise((r) => child.on("close", (code) => r(code))) }
}

const waitFor = async (c: Child, pattern: RegExp): Promise<void> => {
  const until = Date.now() + 60_000
  while (!pattern.test(c.output())) {
    if (Date.now() > until || c.child.exitCode !== null) throw new Error(`no ${pattern} from a worker:\n${c.output().slice(-2000)}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** A hash of what a run leaves in both stores, without its stamps (run_id, synced_at). */
const snapshot = async (dsn: string, driver: Driver | null): Promise<{ vectors: number; nodes: number; relationships: number; hash: string }> => {
  const pg = await withClient(dsn, (c) =>
    c.query<{ n: string; h: string }>("SELECT count(embedding)::text AS n, md5(string_agg(passage_id::text || ':' || coalesce(embedding::text, '-'), ',' ORDER BY passage_id)) AS h FROM passages"))
  const strip = (p: Record<string, unknown>) => JSON.stringify(Object.keys(p).filter((k) => k !== "run_id" && k !== "synced_at").sort().map((k) => [k, p[k]]))
  if (driver === null) return { vectors: Number(pg.rows[0]!.n), nodes: 0, relationships: 0, hash: pg.rows[0]!.h }
  const nodes = await driver.executeQuery("MATCH (n) RETURN labels(n) AS l, properties(n) AS p")
  const rels = await driver.executeQuery("MATCH (a)-[r]->(b) RETURN properties(a) AS a, type(r) AS t, properties(r) AS p, properties(b) AS b")
  const lines = [
    ...nodes.records.map((r) => `${JSON.stringify(r.get("l"))}${strip(r.get("p"))}`),
    ...rels.records.map((r) => `${strip(r.get("a"))}-${String(r.get("t"))}${strip(r.get("p"))}->${strip(r.get("b"))}`)
  ].sort()
  const hash = createHash("sha256").update(`${pg.rows[0]!.h}\n${lines.join("\n")}`).digest("hex")
  return { vectors: Number(pg.rows[0]!.n), nodes: nodes.records.length, relationships: rels.records.length, hash }
}

interface Run {
  readonly step: "embed" | "graph"
  readonly workers: number
  readonly rep: number
  readonly seconds: number
  readonly workerCpuS: number | null
  readonly neo4jCpuS: number | null
  readonly postgresCpuS: number | null
  readonly ranges: ReadonlyArray<number>
  readonly retries: number
  readonly busy: number
}

export const clusterBench = async (o: ClusterBenchOptions): Promise<void> => {
  const info = machine()
  const database = o.docs !== null ? "polymath_bench_cluster_smoke" : o.scale === 1 ? "polymath_bench" : `polymath_bench${o.scale}`
  if (o.docs !== null) await withClient(stackDsn(), (c) => c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`))
  const dsn = await ensureBenchDatabase(database, o.scale, 384)
  if (o.docs !== null) await cutCorpus(dsn, o.docs)
  const stateDsn = dsnWithDatabase(stackDsn(), "polymath_bench_cluster_state")
  await withClient(stackDsn(), async (c) => {
    await c.query("DROP DATABASE IF EXISTS polymath_bench_cluster_state WITH (FORCE)")
    await c.query("CREATE DATABASE polymath_bench_cluster_state")
  })
  // Only a graph step writes the graph: an embed-only comparison leaves the stack's Neo4j as it is
  // (a run opens every connection its pipeline names, so it still needs one to connect to).
  const graph = o.steps.includes("graph")
  const neo = graph ? await startPrivateNeo4j({ fixedHeap: true }) : null
  const driver = neo === null ? null : await openDriver(neo.uri, "neo4j", "")
  const env: NodeJS.ProcessEnv = {
    ...process.env, POSTGRES_DSN: dsn, ...(neo === null ? {} : { NEO4J_URI: neo.uri, NEO4J_USER: "neo4j", NEO4J_PASSWORD: "" }),
    POLYMATH_CLUSTER_DSN: stateDsn, POLYMATH_EMBED_THREADS: "1", POLYMATH_PROFILE: "/dev/null", POLYMATH_LOG_LEVEL: process.env["POLYMATH_LOG_LEVEL"] ?? "info"
  }
  const model = ["--set", `model=${o.model}`]
  const clearVectors = () => withClient(dsn, (c) => c.query("UPDATE passages SET embedding = NULL, embedding_model = NULL WHERE embedding IS NOT NULL"))
  const runs: Array<Run> = []
  let single: Awaited<ReturnType<typeof snapshot>> | null = null
  let distributed: Awaited<ReturnType<typeof snapshot>> | null = null
  try {
    // The reference: one process, the steps measured, one intra-op thread like each worker.
    if (driver !== null) await resetGraph(driver)
    await clearVectors()
    log("single-process reference run")
    // One step measured: the reference runs that step alone (the graph step does not read the vectors).
    const only = o.steps.length === 1 ? ["--only", stepName[o.steps[0]!]] : []
    const ref = launch(["run", "--pipeline=batch-v1", ...model, ...only, "--force", "--no-verify"], env)
    if ((await ref.exited) !== 0) throw new Error(`the single-process run failed:\n${ref.output().slice(-3000)}`)
    single = await snapshot(dsn, driver)
    for (let rep = 1; rep <= o.reps; rep++) {
      for (const workers of rep % 2 === 1 ? [1, 2] : [2, 1]) {
        for (const step of o.steps) {
          if (step === "embed") await clearVectors()
          else await resetGraph(driver!)
          const ws: Array<Child> = []
          for (let i = 0; i < workers; i++) {
            const w = launch(["worker", "--listen", `127.0.0.1:${await freePort()}`, "--concurrency", "1"], env)
            ws.push(w)
            await waitFor(w, /worker listening/)
          }
          const busy = machineLoad()
          const load1 = loadavg()[0]!
          const neoCpu = serverCpu(neo?.pid ?? null, false)
          const pgCpu = serverCpu(postmasterPid(), true)
          const wCpu = ws.map((w) => serverCpu(w.child.pid ?? null, false))
          const t0 = performance.now()
          const r = launch(["run", "--pipeline=batch-v1", ...model, "--only", stepName[step], "--distributed", "--ranges", String(o.ranges), "--no-verify", "--force"], env)
          // A run that outlives the cap is a failure to show, not a number to report.
          const timer = setTimeout(() => r.child.kill("SIGKILL"), o.capS * 1000)
          const code = await r.exited
          clearTimeout(timer)
          const seconds = (performance.now() - t0) / 1000
          const cpu = wCpu.map((f) => f())
          const run: Run = {
            step, workers, rep, seconds, busy: busy(),
            workerCpuS: cpu.every((x) => x !== null) ? round(cpu.reduce((s, x) => s + x!, 0), 1) : null,
            neo4jCpuS: neoCpu(), postgresCpuS: pgCpu(),
            ranges: ws.map((w) => (w.output().match(/range \d+ of /g) ?? []).length),
            retries: ws.reduce((n, w) => n + (w.output().match(/retry/gi) ?? []).length, 0)
          }
          for (const w of ws) w.child.kill("SIGTERM")
          await Promise.all(ws.map((w) => w.exited))
          if (code !== 0) throw new Error(`${step} on ${workers} worker(s) failed (exit ${code}${seconds >= o.capS ? `, stopped at the ${o.capS} s cap` : ""}):\n${r.output().slice(-3000)}\n${ws.map((w, i) => `--- worker ${i}\n${w.output().slice(-3000)}`).join("\n")}`)
          runs.push(run)
          log(`rep ${rep} ${step} on ${workers} worker(s): ${seconds.toFixed(2)} s, ranges per worker ${run.ranges.join("/")}, CPU-s workers ${run.workerCpuS ?? "?"} neo4j ${run.neo4jCpuS ?? "?"} pg ${run.postgresCpuS ?? "?"}, load1 ${load1.toFixed(2)}, busy ${(run.busy * 100).toFixed(0)}%`)
        }
        // After the 2-worker runs of every step the stores hold what the distributed runs wrote.
        if (workers === 2 && distributed === null) distributed = await snapshot(dsn, driver)
      }
    }
  } finally {
    await driver?.close()
    await neo?.stop()
  }
  report(o, runs, single, distributed, info)
}

const graph = (o: ClusterBenchOptions) => o.steps.includes("graph")

const report = (o: ClusterBenchOptions, runs: ReadonlyArray<Run>, single: Awaited<ReturnType<typeof snapshot>> | null, distributed: Awaited<ReturnType<typeof snapshot>> | null, info: ReturnType<typeof machine>): void => {
  const of = (step: string, workers: number) => runs.filter((r) => r.step === step && r.workers === workers)
  const secs = (step: string, workers: number) => median(of(step, workers).map((r) => r.seconds))
  const cpuOf = (rs: ReadonlyArray<Run>, k: "workerCpuS" | "neo4jCpuS" | "postgresCpuS") => {
    const xs = rs.flatMap((r) => (r[k] === null ? [] : [r[k]!]))
    return xs.length === 0 ? "?" : median(xs).toFixed(1)
  }
  const rows = o.steps.flatMap((step) =>
    [1, 2].map((w) => {
      const rs = of(step, w)
      return [`${step} on ${w} worker${w === 1 ? "" : "s"}`, secs(step, w).toFixed(2), `${cpuOf(rs, "workerCpuS")} / ${cpuOf(rs, "neo4jCpuS")} / ${cpuOf(rs, "postgresCpuS")}`, rs.map((r) => r.ranges.join("/")).join(", "), String(rs.length), rs.map((r) => (r.busy * 100).toFixed(0)).join(", ")]
    }))
  const speedup = (step: string) => (of(step, 1).length > 0 && of(step, 2).length > 0 ? round(secs(step, 1) / secs(step, 2), 2) : null)
  const equal = single !== null && distributed !== null ? single.hash === distributed.hash : null
  process.stdout.write(`\nbench cluster: batch-v1 at scale ${o.scale}${o.docs !== null ? ` cut to ${o.docs} documents` : ""}, model ${o.model}, ${o.ranges} ranges per unit, workers with 1 intra-op thread and 1 range at a time
machine: ${info.cores} cores, ${info.cpu}, flags ${cpuFlags()}, load average at start ${info.loadavg_start.join(" ")}

${table(["run", "wall s (median)", "CPU-s workers / neo4j / pg", "ranges per worker", "runs", "machine busy %"], rows)}

${table(["step", "speed-up, 2 workers vs 1 (1 worker s / 2 workers s)"], o.steps.map((s) => [s, String(speedup(s) ?? "-")]))}

final state of the 2-worker runs equals the single-process run's${graph(o) ? "" : " (vectors only: no graph step)"}: ${equal === null ? "not compared" : equal ? "yes" : "NO"}${single !== null ? ` (${single.vectors} vectors, ${single.nodes} nodes, ${single.relationships} relationships in the single-process run${distributed !== null ? `; ${distributed.vectors}, ${distributed.nodes}, ${distributed.relationships} after the distributed runs` : ""})` : ""}
`)
  if (o.json !== null) {
    writeFileSync(o.json, JSON.stringify({
      machine: { ...info, flags: cpuFlags() }, options: o,
      embed_speedup: speedup("embed"), graph_speedup: speedup("graph"), final_state_equal: equal,
      seconds: Object.fromEntries(o.steps.map((s) => [s, { workers_1: round(secs(s, 1), 2), workers_2: round(secs(s, 2), 2) }])),
      single, distributed, runs
    }, null, 2))
  }
  if (equal === false) process.exitCode = 1
}
