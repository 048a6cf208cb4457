/** Helpers shared by the benchmarks: statistics, tables, machine load, the benchmark databases. */
import { execSync, spawnSync } from "node:child_process"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { createServer } from "node:net"
import { availableParallelism, cpus, loadavg, totalmem } from "node:os"
import { join, resolve } from "node:path"
import { redact } from "@polymath/engine"
import { runnerNodeFlags } from "@polymath/runner/node-flags"
import { expectedCounts } from "../fixtures/src/corpus.ts"
import { queryRows, withClient } from "../fixtures/src/pgClient.ts"

export const repoRoot = resolve(import.meta.dirname, "../..")
export const nodeBin = process.execPath
export const pythonBin = join(repoRoot, ".cache", "venv", "bin", "python")

/**
 * The arguments that start the runner CLI of the checkout at `root` as its launchers do: the
 * runner's V8 flags (apps/runner/src/NodeFlags.ts), then its main.ts.
 * POLYMATH_BENCH_RUNNER_FLAGS replaces the flags (empty: none), to measure without them;
 * `overrideVar` names another variable for one contender (the graph benchmark's baseline).
 */
export const runnerMain = (root: string = repoRoot, overrideVar = "POLYMATH_BENCH_RUNNER_FLAGS"): ReadonlyArray<string> => {
  const override = process.env[overrideVar]
  const flags = override === undefined ? runnerNodeFlags : override.split(/\s+/).filter((f) => f !== "")
  return [...flags, join(root, "apps/runner/src/main.ts")]
}

/**
 * Makes the runner of the checkout at `root` start as users' runs do, from its bundle
 * (apps/runner/src/BundleCheck.ts): builds it with that checkout's own builder when stale. Says
 * what the runner will load, for the benchmark's log; a checkout from before the bundle existed
 * starts from its sources.
 */
export const prepareRunner = (root: string = repoRoot): string => {
  const builder = join(root, "apps/runner/src/BundleBuild.ts")
  if (!existsSync(builder)) return "its sources (this checkout has no bundle builder)"
  const r = spawnSync(nodeBin, [builder, "--if-stale", "--quiet"], { cwd: root, encoding: "utf8" })
  if (r.status !== 0) throw new Error(`the runner's bundle in ${root} did not build: ${(r.stderr ?? "").trim()}`)
  const build = (JSON.parse(readFileSync(join(root, "apps/runner/dist/bundle.json"), "utf8")) as { build: string }).build
  return `its bundle (apps/runner/dist/${build})`
}

export const median = (xs: ReadonlyArray<number>): number => {
  if (xs.length === 0) return Number.NaN
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

export const round = (x: number, digits = 2): number => (Number.isFinite(x) ? Number(x.toFixed(digits)) : x)

export const log = (line: string): void => void process.stderr.write(`bench: ${line}\n`)

/** A plain-text table; numbers right-aligned. */
export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    "| " + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ") + " |"
  return [line(header), "| " + widths.map((w, i) => (i === 0 ? "-".repeat(w) : "-".repeat(w - 1) + ":")).join(" | ") + " |", ...rows.map(line)].join("\n")
}

/** Whole-machine CPU counters (jiffies) from /proc/stat. */
const cpuTicks = (): { busy: number; total: number; steal: number } => {
  try {
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number)
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f
    const busy = user + nice + system + irq + softirq + steal
    return { busy, total: busy + idle + iowait, steal }
  } catch {
    return { busy: 0, total: 0, steal: 0 }
  }
}

/** Measures how busy the whole machine was (all processes, 0..1 of all cores) between start and stop. */
export const machineLoad = () => {
  const t0 = cpuTicks()
  return () => {
    const t1 = cpuTicks()
    const total = t1.total - t0.total
    return total > 0 ? (t1.busy - t0.busy) / total : Number.NaN
  }
}

export const machine = () => ({
  cores: availableParallelism(),
  cpu: cpus()[0]?.model ?? "unknown",
  memory_gib: round(totalmem() / 2 ** 30, 1),
  loadavg_start: loadavg().map((x) => round(x, 2)),
  node: process.version
})

/** The SIMD flags lscpu reports that matter to the numbers (avx512f, avx2), for the tables. */
export const cpuFlags = (): string => {
  try {
    const f = (execSync("lscpu", { encoding: "utf8" }).match(/^Flags:\s*(.*)$/m)?.[1] ?? "").split(" ")
    return ["avx512f", "avx2", "fma"].filter((x) => f.includes(x)).join(", ") || "neither avx2 nor avx512f"
  } catch {
    return "lscpu unavailable"
  }
}

/** Peak RSS (MiB) of this process so far. */
export const selfPeakRssMb = (): number => round(process.resourceUsage().maxRSS / 1024, 1)

/** The stack's Postgres DSN (eval "$(npm run -s stack -- env)"). */
export const stackDsn = (): string => {
  const dsn = process.env["POSTGRES_DSN"]
  if (dsn === undefined || dsn === "") {
    throw new Error('POSTGRES_DSN is not set: run `npm run stack -- up` and `eval "$(npm run -s stack -- env)"`')
  }
  return dsn
}

export const dsnWithDatabase = (dsn: string, database: string): string => {
  const url = new URL(dsn)
  url.pathname = `/${database}`
  return url.toString()
}

/**
 * Makes sure database `name` exists on the stack's server and holds the fixture corpus at `scale`
 * with vector(`dim`) embeddings (loading it with tools/fixtures when it does not). Returns its DSN.
 */
export const ensureBenchDatabase = async (name: string, scale: number, dim: number): Promise<string> => {
  if (["polymath", "polymath_e2e", "polymath_lead"].includes(name)) throw new Error(`refusing to use database ${name}: it belongs to others`)
  const base = stackDsn()
  const dsn = dsnWithDatabase(base, name)
  await withClient(base, async (c) => {
    const rows = await queryRows(c, "SELECT 1 FROM pg_database WHERE datname = $1", [name])
    if (rows.length === 0) {
      log(`creating database ${name}`)
      await c.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`)
    }
  })
  const expected = expectedCounts(scale)
  const state = await withClient(dsn, async (c) => {
    const t = await queryRows<{ n: number }>(c, "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public' AND tablename IN ('documents', 'passages', 'passage_concepts')")
    if (t[0]!.n < 3) return null
    const [row] = await queryRows<{ docs: number; passages: number; type: string }>(
      c,
      `SELECT (SELECT count(*)::int FROM documents) AS docs, (SELECT count(*)::int FROM passages) AS passages,
              (SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'passages'::regclass AND attname = 'embedding') AS type`
    )
    return row!
  })
  if (state === null || state.docs !== expected.documents || state.passages !== expected.passages || state.type !== `vector(${dim})`) {
    log(`loading the scale-${scale} corpus (vector(${dim})) into ${redact(dsn)}`)
    const r = spawnSync(nodeBin, [join(repoRoot, "tools/fixtures/src/main.ts"), "--scale", String(scale), "--dim", String(dim), "--no-verify"], {
      env: { ...process.env, POSTGRES_DSN: dsn },
      stdio: ["ignore", "ignore", "inherit"]
    })
    if (r.status !== 0) throw new Error(`tools/fixtures failed with status ${r.status}`)
    await withClient(dsn, (c) => c.query("DROP TABLE IF EXISTS bench_texts"))
  }
  return dsn
}

/** Keeps only the first `docs` documents of a bench corpus, with their passages and mentions (the smokes' cut). */
export const cutCorpus = (dsn: string, docs: number): Promise<void> =>
  withClient(dsn, async (c) => {
    await c.query(`CREATE TEMP TABLE keep AS SELECT doc_id FROM documents ORDER BY doc_id LIMIT ${Math.trunc(docs)}`)
    await c.query("DELETE FROM passage_concepts pc USING passages p WHERE p.passage_id = pc.passage_id AND p.doc_id NOT IN (SELECT doc_id FROM keep)")
    await c.query("DELETE FROM passages WHERE doc_id NOT IN (SELECT doc_id FROM keep)")
    await c.query("DELETE FROM documents WHERE doc_id NOT IN (SELECT doc_id FROM keep)")
  })

/**
 * Keeps the original batch-v1 passage texts in `bench_texts` (created once), so benchmarks can
 * replace passage_text and put it back. Returns nothing; see `restoreCorpus`.
 */
export const saveOriginalTexts = (dsn: string): Promise<void> =>
  withClient(dsn, async (c) => {
    await c.query(`CREATE TABLE IF NOT EXISTS bench_texts AS
      SELECT p.passage_id, p.passage_text FROM passages p
      WHERE EXISTS (SELECT 1 FROM passage_concepts pc WHERE pc.passage_id = p.passage_id AND pc.extractor_version = 'batch-v1')`)
  })

/** Puts the original texts back and clears the vectors of the batch-v1 passages (the fixture state). */
export const restoreCorpus = (dsn: string): Promise<void> =>
  withClient(dsn, async (c) => {
    await c.query(`UPDATE passages p SET passage_text = b.passage_text, embedding = NULL, embedding_model = NULL
      FROM bench_texts b WHERE b.passage_id = p.passage_id`)
  })

/**
 * Leaves exactly `ids` for the embed step to select: their vectors are cleared; every other batch-v1
 * passage gets a placeholder vector so that the source (`embedding IS NULL`) skips it.
 */
export const selectForEmbedding = (dsn: string, ids: ReadonlyArray<string>, dim: number): Promise<void> =>
  withClient(dsn, async (c) => {
    await c.query(
      `UPDATE passages p SET embedding = CASE WHEN p.passage_id = ANY($1::uuid[]) THEN NULL ELSE array_fill(1::real, ARRAY[$2::int])::vector END,
                             embedding_model = CASE WHEN p.passage_id = ANY($1::uuid[]) THEN NULL ELSE 'bench-placeholder' END
       FROM bench_texts b WHERE b.passage_id = p.passage_id`,
      [ids, dim]
    )
  })

/** Clears the vectors of `ids` again (between repetitions). */
export const clearVectors = (dsn: string, ids: ReadonlyArray<string>): Promise<void> =>
  withClient(dsn, async (c) => {
    await c.query("UPDATE passages SET embedding = NULL, embedding_model = NULL WHERE passage_id = ANY($1::uuid[])", [ids])
  })

/** A memory figure of a live process from /proc (null once it has exited). */
export const statusKb = (pid: number, field: "VmRSS" | "VmHWM"): number | null => {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"))
    return m ? Number(m[1]) : null
  } catch {
    return null
  }
}

/** A process's first child (the node process under /usr/bin/time), null when it has none or has exited. */
export const childOf = (pid: number): number | null => {
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const kids = readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim()
      if (kids !== "") return Number(kids.split(/\s+/)[0])
    }
  } catch {
    // exited
  }
  return null
}

/** A TCP port free on the loopback now (for a private Neo4j or a cluster worker). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
