/**
 * `npm run bench -- memory`: peak RSS of the runner CLI (`node apps/runner/src/main.ts run ...`, a
 * child process) on the scale-1 and the scale-100 corpus.
 *
 * - embed: `--only embed_passages` over the batch-v1 source as it is (scale 1: 973 passages; scale 100:
 *   97 300), stopped with SIGINT (a graceful interruption, exit 130) once `--embed-rows` passages are
 *   done, or run to the end when the source has fewer. The source query, its count and its keyset pages
 *   run over the whole corpus; only the number of pages embedded is bounded.
 * - graph (`--graph`): `--only sync_graph` in full, into a private Neo4j started for the purpose
 *   (its own home under the system temp dir, its own port, no auth) and stopped afterwards, so the
 *   stack's shared Neo4j is not written.
 * - whole (`--steps whole`): the whole pipeline as `polymath run` runs it (both steps side by side,
 *   then verify), into a private Neo4j, every passage re-embedded (`--force`). It runs to the end, or
 *   is stopped with SIGINT once every graph unit is done and `--embed-rows` passages are embedded:
 *   the two steps overlap only while the graph step runs, and what the embed step does after that
 *   is what `embed` measures on its own.
 *
 * Peak RSS: the child's maximum resident set size (/usr/bin/time's %M when available, else the last
 * VmHWM read from /proc), plus VmRSS sampled every 250 ms against the rows done (from the runner's
 * progress lines) to show whether memory grows with rows.
 */
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { parse } from "yaml"
import { makeEmbedderFactory } from "@polymath/embeddings"
import { childOf, ensureBenchDatabase, log, machine, nodeBin, repoRoot, runnerMain, restoreCorpus, round, saveOriginalTexts, statusKb, table, freePort } from "./common.ts"

export interface MemoryBenchOptions {
  readonly model: string
  readonly embedRows: number
  /** Steps to measure, of embed_passages and sync_graph. */
  readonly steps: ReadonlyArray<"embed_passages" | "sync_graph" | "whole">
  readonly scales: ReadonlyArray<number>
  /** NODE_OPTIONS for the runner child, e.g. --max-old-space-size=128 (to tell live data from heap slack). */
  readonly nodeOptions: string | null
  readonly json: string | null
}

interface Measured {
  readonly scale: number
  readonly step: string
  readonly rows: number
  readonly total: number | null
  readonly seconds: number
  readonly exitCode: number | null
  readonly peakRssMb: number
  /** [seconds, rss MiB, rows done] samples, thinned. */
  readonly series: ReadonlyArray<readonly [number, number, number]>
  /** RSS when half the rows were done, and at the end: growth with rows. */
  readonly rssAtHalfMb: number | null
  readonly rssAtEndMb: number | null
}

/** Starts a private Neo4j (the stack's launcher, another home and port, no auth); resolves once it accepts Bolt. */
export const startPrivateNeo4j = async (options: { readonly fixedHeap?: boolean } = {}): Promise<{ uri: string; pid: number | null; stop: () => Promise<void> }> => {
  const lib = join(repoRoot, "tools/stack/neo4j")
  if (!existsSync(join(lib, "target/classes/Launcher.class"))) throw new Error("the stack's Neo4j launcher is not built: run `npm run stack -- up` first")
  const home = mkdtempSync(join(tmpdir(), "polymath-bench-neo4j-"))
  const port = await freePort()
  const child = spawn("java", [
    options.fixedHeap === true ? "-Xms1g" : "-Xms256m", "-Xmx1g", "-XX:+UseG1GC", "-XX:+ExitOnOutOfMemoryError",
    "--add-opens=java.base/java.nio=ALL-UNNAMED", "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED", "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "-Dio.netty.tryReflectionSetAccessible=true", "-Dfile.encoding=UTF-8",
    "-cp", `${lib}/lib/*:${lib}/target/classes`, "Launcher", home, String(port)
  ], { env: { ...process.env, POLYMATH_NEO4J_AUTH: "none" }, stdio: ["ignore", "pipe", "pipe"] })
  let stderr = ""
  child.stderr!.on("data", (d: Buffer) => void (stderr = (stderr + d.toString()).slice(-4000)))
  await new Promise<void>((resolve, reject) => {
    let out = ""
    const timer = setTimeout(() => reject(new Error(`private Neo4j did not start in 180 s: ${stderr}`)), 180_000)
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString()
      if (out.includes("NEO4J READY")) {
        clearTimeout(timer)
        resolve()
      } else if (out.includes("NEO4J FAILED")) {
        clearTimeout(timer)
        reject(new Error(`private Neo4j failed: ${out} ${stderr}`))
      }
    })
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`private Neo4j exited (${code}): ${stderr}`))
    })
  })
  log(`private Neo4j pid ${child.pid} on bolt://127.0.0.1:${port} (home ${home})`)
  return {
    uri: `bolt://127.0.0.1:${port}`,
    pid: child.pid ?? null,
    stop: async () => {
      child.removeAllListeners("exit")
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
      child.kill("SIGTERM")
      const timeout = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), 60_000))
      if ((await Promise.race([exited, timeout])) === "timeout") {
        child.kill("SIGKILL")
        await exited
      }
      rmSync(home, { recursive: true, force: true })
    }
  }
}

/**
 * Runs the runner CLI on one step (or the whole pipeline), sampling its memory; stops it with
 * SIGINT once `stopAfter` embed rows are done and, for the whole pipeline, `graphUnits` units of
 * the graph step have ended.
 */
const runCli = (args: {
  readonly scale: number
  readonly step: string
  readonly model: string
  readonly dsn: string
  readonly neo4jUri: string
  readonly neo4jAuth: { user: string; password: string } | null
  readonly stopAfter: number | null
  readonly nodeOptions: string | null
  /** Units of the graph step: the whole pipeline is stopped only once all of them have ended. */
  readonly graphUnits?: number
}): Promise<Measured> =>
  new Promise((resolve, reject) => {
    const reportFile = join(mkdtempSync(join(tmpdir(), "polymath-bench-mem-")), "report.json")
    const whole = args.step === "whole"
    const cli = [...runnerMain(), "run", "--pipeline=batch-v1", `--set`, `model=${args.model}`, ...(whole ? [] : ["--only", args.step]), "--no-resume", "--json", reportFile,
      // Every repetition embeds every passage, whatever the embed state recorded last time.
      ...(args.step === "embed_passages" || whole ? ["--force"] : [])]
    const useTime = existsSync("/usr/bin/time")
    const env = {
      ...process.env,
      POSTGRES_DSN: args.dsn,
      NEO4J_URI: args.neo4jUri,
      NEO4J_USER: args.neo4jAuth?.user ?? "neo4j",
      NEO4J_PASSWORD: args.neo4jAuth?.password ?? "",
      ...(args.nodeOptions === null ? {} : { NODE_OPTIONS: args.nodeOptions })
    }
    const child: ChildProcess = useTime
      ? spawn("/usr/bin/time", ["-f", "POLYMATH_BENCH_MAXRSS_KB %M", nodeBin, ...cli], { cwd: repoRoot, env, stdio: ["ignore", "pipe", "pipe"] })
      : spawn(nodeBin, cli, { cwd: repoRoot, env, stdio: ["ignore", "pipe", "pipe"] })
    const t0 = performance.now()
    let rows = 0
    const unitTotals = new Map<string, number>()
    const unitDone = new Map<string, number>()
    const graphEnded = new Set<string>()
    // Rows that count towards `stopAfter`: the embed step's (the graph step runs to its end).
    const embedRows = () => [...unitDone].reduce((a, [unit, n]) => a + (unit.startsWith("embed_passages") ? n : 0), 0)
    let hwm = 0
    let maxRssKb: number | null = null
    let interrupted = false
    let stderrTail = ""
    const series: Array<[number, number, number]> = []
    let nodePid: number | null = useTime ? null : child.pid ?? null
    const sample = setInterval(() => {
      if (nodePid === null && child.pid !== undefined) nodePid = childOf(child.pid)
      if (nodePid === null) return
      const rss = statusKb(nodePid, "VmRSS")
      const peak = statusKb(nodePid, "VmHWM")
      if (peak !== null) hwm = Math.max(hwm, peak)
      if (rss !== null) series.push([round((performance.now() - t0) / 1000, 2), round(rss / 1024, 1), rows])
    }, 250)
    const onLine = (line: string) => {
      const m = /^(\S+): (\d+)(?:\/(\d+))? rows/.exec(line)
      if (m) {
        unitDone.set(m[1]!, Number(m[2]))
        if (m[3] !== undefined) unitTotals.set(m[1]!, Number(m[3]))
        rows = [...unitDone.values()].reduce((a, b) => a + b, 0)
        if (m[1]!.startsWith("sync_graph/") && /, done$/.test(line)) graphEnded.add(m[1]!)
        const stop = args.stopAfter !== null && (whole ? embedRows() : rows) >= args.stopAfter && graphEnded.size >= (args.graphUnits ?? 0)
        if (stop && !interrupted && nodePid !== null) {
          interrupted = true
          log(`scale ${args.scale} ${args.step}: ${rows} rows done (${graphEnded.size} graph units ended), interrupting (SIGINT)`)
          process.kill(nodePid, "SIGINT")
        }
      }
      const s = /^(\S+): starting, (\d+) rows/.exec(line)
      if (s) unitTotals.set(s[1]!, Number(s[2]))
      const t = /^POLYMATH_BENCH_MAXRSS_KB (\d+)/.exec(line)
      if (t) maxRssKb = Number(t[1])
    }
    let buf = ""
    child.stderr!.on("data", (d: Buffer) => {
      buf += d.toString()
      stderrTail = (stderrTail + d.toString()).slice(-3000)
      const lines = buf.split(/\r|\n/)
      buf = lines.pop() ?? ""
      for (const l of lines) onLine(l.replace(/^\[[#-]+\] /, ""))
    })
    child.stdout!.resume()
    child.once("error", reject)
    child.once("exit", (code) => {
      clearInterval(sample)
      if (buf !== "") onLine(buf)
      const seconds = (performance.now() - t0) / 1000
      let report: { units?: ReadonlyArray<{ read: number; total: number | null }> } = {}
      try {
        report = JSON.parse(readFileSync(reportFile, "utf8")) as typeof report
      } catch {
        // interrupted runs write no report
      }
      const done = report.units?.reduce((s, u) => s + u.read, 0) ?? rows
      if (code !== 0 && !(interrupted && code === 130)) {
        reject(new Error(`runner exited with ${code} on scale ${args.scale} ${args.step}: ${stderrTail}`))
        return
      }
      const peakKb = maxRssKb ?? hwm
      const half = series.find((s) => s[2] >= done / 2)
      const thin = series.filter((_, i) => i % Math.max(1, Math.ceil(series.length / 40)) === 0)
      resolve({
        scale: args.scale,
        step: args.step,
        rows: done,
        total: unitTotals.size === 0 ? null : [...unitTotals.values()].reduce((a, b) => a + b, 0),
        seconds: round(seconds, 1),
        exitCode: code,
        peakRssMb: round(peakKb / 1024, 1),
        series: thin,
        rssAtHalfMb: half?.[1] ?? null,
        rssAtEndMb: series.at(-1)?.[1] ?? null
      })
    })
  })

// Units of batch-v1's graph step: one per node and relationship mapping.
const graphUnitCount = (): number => {
  const spec = parse(readFileSync(join(repoRoot, "pipelines/batch-v1.yaml"), "utf8")) as { steps: { sync_graph: { graph: { nodes: ReadonlyArray<unknown>; relationships: ReadonlyArray<unknown> } } } }
  const graph = spec.steps.sync_graph.graph
  return graph.nodes.length + graph.relationships.length
}

export const memoryBench = async (o: MemoryBenchOptions): Promise<void> => {
  const factory = await Effect.runPromise(makeEmbedderFactory())
  const dim = (await Effect.runPromise(factory.describe(o.model))).dimensions
  const results: Array<Measured> = []
  const dsns = new Map<number, string>()
  for (const scale of o.scales) {
    const dsn = await ensureBenchDatabase(scale === 1 ? "polymath_bench" : `polymath_bench${scale}`, scale, dim)
    await saveOriginalTexts(dsn)
    dsns.set(scale, dsn)
  }
  const stackNeo4j = process.env["NEO4J_URI"]
  for (const scale of o.scales) {
    const dsn = dsns.get(scale)!
    await restoreCorpus(dsn)
    if (o.steps.includes("embed_passages")) {
      if (stackNeo4j === undefined) throw new Error('NEO4J_URI is not set: eval "$(npm run -s stack -- env)" (the embed step connects to every connection of the pipeline)')
      log(`scale ${scale}: embed_passages (stopping after ~${o.embedRows} rows)`)
      const auth = process.env["NEO4J_PASSWORD"] ? { user: process.env["NEO4J_USER"] ?? "neo4j", password: process.env["NEO4J_PASSWORD"] } : null
      const embed = await runCli({ scale, step: "embed_passages", model: o.model, dsn, neo4jUri: stackNeo4j, neo4jAuth: auth, stopAfter: o.embedRows, nodeOptions: o.nodeOptions })
      results.push(embed)
      log(`scale ${scale}: embed ${embed.rows}/${embed.total ?? "?"} rows in ${embed.seconds} s, peak RSS ${embed.peakRssMb} MiB`)
      await restoreCorpus(dsn)
    }
    if (o.steps.includes("whole")) {
      const neo4j = await startPrivateNeo4j()
      try {
        log(`scale ${scale}: the whole pipeline (stopping once the graph step has ended and ~${o.embedRows} passages are embedded)`)
        const run = await runCli({ scale, step: "whole", model: o.model, dsn, neo4jUri: neo4j.uri, neo4jAuth: null, stopAfter: o.embedRows, nodeOptions: o.nodeOptions, graphUnits: graphUnitCount() })
        results.push(run)
        log(`scale ${scale}: whole run ${run.rows} rows in ${run.seconds} s, peak RSS ${run.peakRssMb} MiB`)
      } finally {
        await neo4j.stop()
      }
      await restoreCorpus(dsn)
    }
    if (o.steps.includes("sync_graph")) {
      const neo4j = await startPrivateNeo4j()
      try {
        log(`scale ${scale}: sync_graph (full)`)
        const graph = await runCli({ scale, step: "sync_graph", model: o.model, dsn, neo4jUri: neo4j.uri, neo4jAuth: null, stopAfter: null, nodeOptions: o.nodeOptions })
        results.push(graph)
        log(`scale ${scale}: graph ${graph.rows} rows in ${graph.seconds} s, peak RSS ${graph.peakRssMb} MiB`)
      } finally {
        await neo4j.stop()
      }
    }
  }

  const rows = results.map((r) => [
    `scale ${r.scale} ${r.step}`,
    `${r.rows}${r.total !== null ? ` of ${r.total}` : ""}`,
    r.seconds.toFixed(1),
    r.peakRssMb.toFixed(0),
    r.rssAtHalfMb?.toFixed(0) ?? "-",
    r.rssAtEndMb?.toFixed(0) ?? "-",
    r.exitCode === 130 ? "interrupted after the rows shown" : "completed"
  ])
  const text = table(["run (runner CLI, --only step, or whole)", "rows", "s", "peak RSS MiB", "RSS at half MiB", "RSS at end MiB", "how it ended"], rows)
  const ratios: Record<string, number | null> = {}
  for (const step of ["embed_passages", "sync_graph", "whole"]) {
    const small = results.find((r) => r.step === step && r.scale === o.scales[0])
    const big = results.find((r) => r.step === step && r.scale === o.scales.at(-1))
    ratios[step] = small && big && small !== big ? round(big.peakRssMb / small.peakRssMb, 3) : null
  }
  process.stdout.write(`\n${text}\n\npeak RSS ratio scale ${o.scales.at(-1)} / scale ${o.scales[0]}: ${Object.entries(ratios).map(([k, v]) => `${k} ${v ?? "-"}`).join(", ")}\n`)
  if (o.json !== null) {
    writeFileSync(o.json, JSON.stringify({ benchmark: "memory", model: o.model, node_options: o.nodeOptions, runner_node_flags: runnerMain().slice(0, -1), machine: machine(), peak_rss_mb: Object.fromEntries(results.map((r) => [`scale${r.scale}/${r.step}`, r.peakRssMb])), peak_rss_ratio: ratios, runs: results, table: text }, null, 2) + "\n")
    log(`wrote ${o.json}`)
  }
}
