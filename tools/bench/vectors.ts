/**
 * `npm run bench -- vectors`: writing precomputed vectors (seeded random unit vectors, so no
 * embedding time) into batch-v1's target, `passages.embedding`, for the passages its embed step
 * selects, by the seed's method, a hand-tuned script and the runner's writer (vectors-contenders.ts),
 * on the same table and rows, interleaved, with the vectors and the embed state cleared and the table
 * vacuumed before every run. Vector indexes on the column are dropped first (the seed's table has none).
 */
import { writeFileSync } from "node:fs"
import { cpus, loadavg } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { loadPipeline } from "@polymath/dsl"
import { compile, onlySteps } from "@polymath/engine"
import type { EmbedStep } from "@polymath/engine"
import { vectorText } from "@polymath/postgres"
import { exec, queryRows, withClient } from "../fixtures/src/pgClient.ts"
import { cpuFlags, ensureBenchDatabase, log, machine, machineLoad, median, repoRoot, round, table } from "./common.ts"
import { postmasterPid } from "./graph.ts"
import { serverCpu } from "./graph-harness.ts"
import { writeWith } from "./vectors-contenders.ts"
import type { VectorContender, VectorWork } from "./vectors-contenders.ts"

export interface VectorsBenchOptions {
  readonly scales: ReadonlyArray<number>
  readonly reps: number
  readonly capS: number
  readonly contenders: ReadonlyArray<VectorContender>
  readonly dim: number
  /** Only the first N rows of each scale's set (a smoke run); null: all. */
  readonly rows: number | null
  readonly json: string | null
}

interface Run {
  readonly contender: VectorContender
  readonly scale: number
  readonly rep: number
  readonly seconds: number
  readonly rows: number
  readonly capped: boolean
  readonly ownCpuS: number
  readonly postgresCpuS: number | null
  readonly machineBusy: number
}

const databaseFor = (scale: number, dim: number): string => `${scale === 1 ? "polymath_bench" : `polymath_bench${scale}`}${dim === 384 ? "" : `_d${dim}`}`

/** Seeded unit vectors (mulberry32), the same for every contender and run. */
const unitVectors = (n: number, dim: number): Array<Float32Array> => {
  let a = 0x5eed
  const next = () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return Array.from({ length: n }, () => {
    const v = Float32Array.from({ length: dim }, () => next() - 0.5)
    const norm = Math.hypot(...v)
    return v.map((x) => x / norm)
  })
}

const cpuSeconds = (): number => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}

/** The embed step of batch-v1: its target and page size, and the ids its source selects (all passages with batch-v1 concepts). */
const embedStep = async (dsn: string): Promise<EmbedStep> => {
  const loaded = await Effect.runPromise(loadPipeline("batch-v1", { set: ["model=bge-small-en-v1.5"], env: { ...process.env, POSTGRES_DSN: dsn }, allowMissingEnv: true, pipelinesDir: join(repoRoot, "pipelines") }))
  return onlySteps(compile(loaded), ["embed_passages"]).steps[0] as EmbedStep
}

const reset = (dsn: string, ids: ReadonlyArray<string>): Promise<void> =>
  withClient(dsn, async (c) => {
    await c.query("UPDATE passages SET embedding = NULL, embedding_model = NULL WHERE passage_id = ANY($1::uuid[]) AND embedding IS NOT NULL", [ids])
    if ((await queryRows(c, "SELECT to_regclass('polymath_etl.embeddings') IS NOT NULL AS t"))[0]!["t"] === true) {
      await c.query("DELETE FROM polymath_etl.embeddings WHERE key = ANY($1::text[])", [ids])
      await exec(c, "VACUUM polymath_etl.embeddings")
    }
    // Dead row versions left by the previous contender would make the next one's UPDATE slower.
    await exec(c, "VACUUM passages")
  })

/** What was written is what was given: the count, and the first and last vectors exactly. */
const check = (dsn: string, w: VectorWork, rows: number): Promise<void> =>
  withClient(dsn, async (c) => {
    const [r] = await queryRows<{ n: number }>(c, "SELECT count(*)::int AS n FROM passages WHERE passage_id = ANY($1::uuid[]) AND embedding IS NOT NULL", [w.ids])
    if (r!.n !== rows) throw new Error(`expected ${rows} vectors written, found ${r!.n}`)
    for (const i of rows === 0 ? [] : [0, rows - 1]) {
      const [d] = await queryRows<{ d: number }>(c, "SELECT (embedding <-> $1::vector)::float8 AS d FROM passages WHERE passage_id = $2::uuid", [vectorText(w.vectors[i]!), w.ids[i]])
      if (d === undefined || d.d !== 0) throw new Error(`the vector of ${w.ids[i]} differs from the one written (distance ${d?.d})`)
    }
  })

export const vectorsBench = async (o: VectorsBenchOptions): Promise<void> => {
  const info = machine()
  const runs: Array<Run> = []
  const setSizes: Record<string, number> = {}
  for (const scale of o.scales) {
    const dsn = await ensureBenchDatabase(databaseFor(scale, o.dim), scale, o.dim)
    const step = await embedStep(dsn)
    const ids = await withClient(dsn, async (c) => {
      for (const idx of await queryRows<{ name: string }>(c, "SELECT indexname AS name FROM pg_indexes WHERE tablename = 'passages' AND indexdef ~ 'USING (hnsw|ivfflat)'")) {
        log(`dropping vector index ${idx.name}`)
        await c.query(`DROP INDEX "${idx.name.replace(/"/g, '""')}"`)
      }
      const rows = await queryRows<{ id: string }>(c, `SELECT DISTINCT p.passage_id::text AS id FROM passages p JOIN passage_concepts pc ON pc.passage_id = p.passage_id AND pc.extractor_version = 'batch-v1' ORDER BY 1`)
      return rows.map((r) => r.id).slice(0, o.rows ?? undefined)
    })
    setSizes[String(scale)] = ids.length
    const vectors = unitVectors(ids.length, o.dim)
    const work = (capS: number): VectorWork => ({ dsn, target: step.unit.target, model: "bench-vectors", ids, vectors, pageSize: step.unit.source.keyset.pageSize, deadline: performance.now() + capS * 1000, capS })
    log(`scale ${scale}: ${ids.length} rows, vector(${o.dim}), runner pages of ${step.unit.source.keyset.pageSize}`)
    // Untimed: the first writes after a load pay for cold caches and the ledger schema's creation.
    await reset(dsn, ids)
    await writeWith.runner(work(o.capS))
    for (let rep = 1; rep <= o.reps; rep++) {
      const order = rep % 2 === 1 ? o.contenders : [...o.contenders].reverse()
      for (const contender of order) {
        await reset(dsn, ids)
        const busy = machineLoad()
        const pg = serverCpu(postmasterPid(), true)
        const c0 = cpuSeconds()
        const t0 = performance.now()
        const w = work(o.capS)
        const written = await writeWith[contender](w)
        const seconds = (performance.now() - t0) / 1000
        const run: Run = { contender, scale, rep, seconds, ...written, ownCpuS: round(cpuSeconds() - c0, 2), postgresCpuS: pg(), machineBusy: busy() }
        await check(dsn, w, written.rows)
        if (!written.capped && written.rows !== ids.length) throw new Error(`${contender} wrote ${written.rows} of ${ids.length} rows`)
        runs.push(run)
        log(`scale ${scale} rep ${rep} ${contender}: ${written.capped ? `> ${o.capS} s (${written.rows} rows)` : `${seconds.toFixed(2)} s`}, CPU-s own ${run.ownCpuS} pg ${run.postgresCpuS ?? "?"}, machine busy ${Math.round(100 * run.machineBusy)}%`)
      }
    }
    await reset(dsn, ids)
  }
  report(o, runs, setSizes, info)
}

const report = (o: VectorsBenchOptions, runs: ReadonlyArray<Run>, setSizes: Record<string, number>, info: ReturnType<typeof machine>): void => {
  const rows: Array<Array<string>> = []
  const perScale: Record<string, unknown> = {}
  const ratioRows: Array<Array<string>> = []
  for (const scale of o.scales) {
    const of = (c: VectorContender) => runs.filter((r) => r.scale === scale && r.contender === c)
    const capped = (c: VectorContender) => of(c).some((r) => r.capped)
    const secs = (c: VectorContender) => median(of(c).map((r) => (r.capped ? o.capS : r.seconds)))
    const n = setSizes[String(scale)]!
    const entry: Record<string, Record<string, number | boolean | null>> = { seconds: {}, capped: {}, rows_per_s: {}, cpu_s_own: {}, cpu_s_postgres: {} }
    for (const c of o.contenders) {
      const rs = of(c)
      if (rs.length === 0) continue
      const s = secs(c)
      const pg = rs.flatMap((r) => (r.postgresCpuS === null ? [] : [r.postgresCpuS]))
      entry["seconds"]![c] = round(s, 3)
      entry["capped"]![c] = capped(c)
      entry["rows_per_s"]![c] = round(capped(c) ? median(rs.map((r) => r.rows)) / o.capS : n / s, 0)
      entry["cpu_s_own"]![c] = round(median(rs.map((r) => r.ownCpuS)), 2)
      entry["cpu_s_postgres"]![c] = pg.length === 0 ? null : round(median(pg), 2)
      rows.push([
        `scale ${scale} ${c}`,
        capped(c) ? `${median(rs.map((r) => r.rows))} of ${n}` : `${n}`,
        capped(c) ? `> ${o.capS}` : s.toFixed(2),
        `${capped(c) ? "< " : ""}${entry["rows_per_s"]![c]}`,
        `${entry["cpu_s_own"]![c]} / ${entry["cpu_s_postgres"]![c] ?? "?"}`,
        `${rs.length}`,
        rs.map((r) => (Number.isFinite(r.machineBusy) ? Math.round(100 * r.machineBusy) : "?")).join(", ")
      ])
    }
    const ratio = (other: VectorContender) => (of("runner").length > 0 && of(other).length > 0 && !capped("runner") ? round(secs(other) / secs("runner"), 2) : null)
    const e = { ...entry, rows: n, runner_vs_seed: ratio("seed"), runner_vs_seed_is_lower_bound: capped("seed"), runner_vs_hand: ratio("hand") }
    perScale[String(scale)] = { ...e, runs: runs.filter((r) => r.scale === scale).map((r) => ({ ...r, seconds: round(r.seconds, 3), machineBusy: round(r.machineBusy, 2) })) }
    ratioRows.push([`scale ${scale}`, e.runner_vs_seed === null ? "-" : `${e.runner_vs_seed_is_lower_bound ? "> " : ""}${e.runner_vs_seed}x`, e.runner_vs_hand === null ? "-" : `${e.runner_vs_hand}x`])
  }
  const text = table(["contender", "rows written", "wall s (median)", "rows/s", "CPU-s own / pg", "runs", "machine busy %"], rows)
  const ratios = table(["scale", "runner vs seed (seed s / runner s)", "runner vs hand-tuned (hand s / runner s)"], ratioRows)
  const flags = cpuFlags()
  process.stdout.write(`\n${text}\n\n${ratios}\n\n${cpus()[0]?.model ?? "?"}, ${info.cores} cores; load average at start ${info.loadavg_start.join(" ")}; flags: ${flags}\n`)
  if (o.json !== null) {
    writeFileSync(o.json, JSON.stringify({ benchmark: "vectors", options: o, machine: { ...info, cpu_flags: flags, loadavg_end: loadavg().map((x) => round(x, 2)) }, scales: perScale, table: text, ratios }, null, 2) + "\n")
    log(`wrote ${o.json}`)
  }
}
