/**
 * Benchmarks are not tests, but they must not rot: each one runs here in its `--smoke` mode (scale 1,
 * a few rows, one repetition, short caps; its numbers mean nothing) and must exit 0 and write the
 * --json keys its README promises, with numbers in them. On the stack's Postgres, in the benchmarks'
 * own databases; graph sync into the private Neo4j the benchmark starts. The cluster smoke runs the
 * embed step only (on 1 and 2 workers); its graph step is what test/cluster.e2e.test.ts covers. The embed benchmark's Python
 * reference is included: it installs its venv (.cache/venv) from the package registry on first use.
 *
 * Not here: `large` (needs the random XLM-R-large export, made with torch by tools/model/xlmr) and
 * `search` (embeds the whole scale-1 corpus and builds a scale-100 one: minutes, not seconds).
 */
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { run } from "./support.ts"

const dir = mkdtempSync(join(tmpdir(), "bench-smoke-"))

/** Runs `npm run bench -- <name> --smoke --json FILE` (the benchmarks pick their databases from the stack's DSN). */
const smoke = async (name: string, ...extra: ReadonlyArray<string>): Promise<Record<string, unknown>> => {
  const file = join(dir, `${name}.json`)
  const r = await run(["tools/bench/main.ts", name, "--smoke", "--json", file, ...extra], { ...process.env, POLYMATH_PROFILE: "/dev/null" })
  expect(r.code, `bench ${name} --smoke failed:\n${r.stderr.slice(-3000)}`).toBe(0)
  return JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>
}

/** The value at a dotted path, which must be a finite number. */
const num = (doc: unknown, path: string): number => {
  const v = path.split(".").reduce<unknown>((o, k) => (o !== null && typeof o === "object" ? (o as Record<string, unknown>)[k] : undefined), doc)
  expect(typeof v === "number" && Number.isFinite(v), `${path} is ${JSON.stringify(v)}`).toBe(true)
  return v as number
}

describe("benchmarks in smoke mode", () => {
  it("vectors: seed, hand-tuned and runner writer ratios", async () => {
    const doc = await smoke("vectors")
    for (const k of ["runner_vs_seed", "runner_vs_hand", "rows_per_s.seed", "rows_per_s.hand", "rows_per_s.runner", "cpu_s_own.runner"]) num(doc, `scales.1.${k}`)
    expect(num(doc, "scales.1.rows")).toBeGreaterThan(0)
  })

  it("reads: cursor, re-run and single pass per source", async () => {
    const doc = await smoke("reads")
    for (const source of ["papers", "passages", "concepts", "mentions"]) {
      for (const m of ["cursor", "rerun", "single"]) num(doc, `us_per_row_growth.${source}.${m}`)
    }
    const runs = doc["runs"] as ReadonlyArray<{ rows: number; seconds: number }>
    expect(runs.length).toBeGreaterThan(0)
    for (const r of runs) expect(r.rows).toBeGreaterThan(0)
  })

  it("embed: raw, runner, fixed batches and the Python reference", async () => {
    const doc = await smoke("embed")
    for (const set of ["mixed"]) {
      for (const k of ["runner_vs_raw", "runner_vs_fixed", "runner_vs_python"]) num(doc, `${k}.${set}.ratio`)
      num(doc, `runner_vs_python.${set}.ratio_vs_sorted`)
      for (const m of ["raw", "runner", "fixed32", "python", "python-sorted"]) num(doc, `passages_per_s.${set}.${m}`)
    }
  })

  it("memory: peak RSS of the runner's embed step and of the whole pipeline", async () => {
    const doc = await smoke("memory")
    expect(num(doc, "peak_rss_mb.scale1/embed_passages")).toBeGreaterThan(0)
    expect(num(doc, "peak_rss_mb.scale1/whole")).toBeGreaterThan(0)
  })

  it("graph: seed (capped), hand-tuned and runner", async () => {
    const doc = await smoke("graph")
    for (const k of ["runner_vs_seed", "runner_vs_hand", "nodes_per_s.runner", "relationships_per_s.runner", "peak_rss_mb.runner", "nodes_per_s.hand"]) num(doc, `scales.1.${k}`)
    expect(typeof (doc["scales"] as Record<string, Record<string, unknown>>)["1"]!["runner_vs_seed_is_lower_bound"]).toBe("boolean")
  })

  it("cluster: the embed step on 1 and 2 workers, and the 2-worker vectors equal a single process's", async () => {
    const doc = await smoke("cluster")
    expect(num(doc, "embed_speedup")).toBeGreaterThan(0)
    expect(doc["final_state_equal"]).toBe(true)
    expect(num(doc, "single.vectors")).toBeGreaterThan(0)
  })

  it("e2e: the seed's method and the runner write the same counts end to end", async () => {
    const doc = await smoke("e2e")
    num(doc, "runner_vs_seed")
    num(doc, "peak_rss_mb.runner")
    const runs = doc["runs"] as ReadonlyArray<{ contender: string; vectors: number; nodes: number; relationships: number }>
    expect(runs.map((r) => r.contender).sort()).toEqual(["runner", "seed"])
    // Both did the whole job: as many vectors, nodes and relationships as each other, and some of each.
    const [a, b] = runs
    expect([a!.vectors, a!.nodes, a!.relationships]).toEqual([b!.vectors, b!.nodes, b!.relationships])
    expect(Math.min(a!.vectors, a!.nodes, a!.relationships)).toBeGreaterThan(0)
  })
})
