/**
 * Distributed runs on the loopback: worker processes that join a cluster (state in its
 * own database), runs submitted with `run --distributed`, and the faults the issue names:
 * a worker SIGKILLed mid-run, the submitting process SIGKILLed (`follow` reattaches), a
 * worker joining mid-run. Every case must leave the stores exactly as a single-process
 * run of the same pipeline leaves them: vectors bit for bit, every node and relationship
 * with every property but the run's own stamps (run_id, synced_at).
 */
import { spawn } from "node:child_process"
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { ChildProcess } from "node:child_process"
import { afterEach, beforeAll, describe, expect, it } from "vitest"
import { freePort } from "../tools/bench/common.ts"
import { loadSmallCorpus, passageId } from "./corpus.ts"
import { cypher, dsnFor, e2eEnv, pgRows, pgScalar, resetDatabase, resetGraph, run, runner } from "./support.ts"

const db = "polymath_cluster_data"
const stateDb = "polymath_cluster_state"
const labels = ["Paper", "Passage", "Concept"]
const model = ["--set", "model=bge-small-en-v1.5-q"]
const env = (): NodeJS.ProcessEnv => ({ ...e2eEnv(db), POLYMATH_CLUSTER_DSN: dsnFor(stateDb) })

const fresh = async () => {
  await resetDatabase(db)
  await loadSmallCorpus(db)
  await resetGraph(labels)
}

/** What a run leaves in both stores, without what differs by run (its id and write times). */
const snapshot = async () => {
  const passages = await pgRows("SELECT passage_id::text AS id, embedding::text AS v, embedding_model AS m FROM passages ORDER BY passage_id", [], db)
  const strip = (p: Record<string, unknown>) => {
    const { run_id: _r, synced_at: _s, ...rest } = p
    return Object.fromEntries(Object.keys(rest).sort().map((k) => [k, rest[k]]))
  }
  const show = (v: unknown) => JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? `${x}n` : x))
  const nodes = await cypher("MATCH (n) WHERE any(l IN labels(n) WHERE l IN $labels) RETURN labels(n) AS l, properties(n) AS p", { labels } as never)
  const rels = await cypher(
    `MATCH (a)-[r]->(b) WHERE any(l IN labels(a) WHERE l IN $labels)
     RETURN labels(a) AS la, properties(a) AS a, type(r) AS t, properties(r) AS p, labels(b) AS lb, properties(b) AS b`,
    { labels } as never
  )
  return {
    passages,
    nodes: nodes.map((n) => show([n["l"], strip(n["p"] as Record<string, unknown>)])).sort(),
    relationships: rels.map((r) => show([r["la"], strip(r["a"] as never), r["t"], strip(r["p"] as never), r["lb"], strip(r["b"] as never)])).sort()
  }
}

/** A process whose output a test can wait on. */
interface Proc {
  readonly child: ChildProcess
  /** stdout and stderr as they came. */
  readonly output: () => string
  readonly stdout: () => string
  readonly stderr: () => string
  readonly exited: Promise<number | null>
}

const launch = (args: ReadonlyArray<string>): Proc => {
  const child = spawn(process.execPath, [...args], { cwd: process.cwd(), env: env(), stdio: ["ignore", "pipe", "pipe"] })
  let output = ""
  let stdout = ""
  let stderr = ""
  child.stdout!.on("data", (d: Buffer) => {
    output += d.toString()
    stdout += d.toString()
  })
  child.stderr!.on("data", (d: Buffer) => {
    output += d.toString()
    stderr += d.toString()
  })
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)))
  return { child, output: () => output, stdout: () => stdout, stderr: () => stderr, exited }
}

const waitFor = async (p: Proc, pattern: RegExp, seconds = 120): Promise<RegExpExecArray> => {
  const until = Date.now() + seconds * 1000
  for (;;) {
    const m = pattern.exec(p.output())
    if (m !== null) return m
    if (Date.now() > until || p.child.exitCode !== null) throw new Error(`no ${pattern} in:\n${p.output()}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

const workers: Array<Proc> = []
const worker = async (): Promise<Proc> => {
  const w = launch(runner("worker", "--listen", `127.0.0.1:${await freePort()}`))
  workers.push(w)
  await waitFor(w, /worker listening/)
  return w
}
const submit = (ranges = 4) => launch(runner("run", "--pipeline", "batch-v1", ...model, "--distributed", "--ranges", String(ranges)))
/** A process's exit code, or a failure with every process's output when it takes longer than `seconds`. */
const exitOf = (p: Proc, seconds = 240): Promise<number | null> =>
  Promise.race([
    p.exited,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`still running after ${seconds} s:\n${p.output()}\n${workers.map((w, i) => `--- worker ${i}\n${w.output()}`).join("\n")}`)), seconds * 1000).unref())
  ])
const ranges = (p: Proc) => (p.output().match(/range \d+ of /g) ?? []).length

afterEach(async () => {
  for (const w of workers.splice(0)) {
    w.child.kill("SIGKILL")
    await w.exited
  }
})

describe("distributed runs on the loopback", () => {
  let single: Awaited<ReturnType<typeof snapshot>>

  beforeAll(async () => {
    await resetDatabase(stateDb)
    await fresh()
    const local = await run(runner("run", "--pipeline", "batch-v1", ...model), env())
    expect(local.code, local.stderr).toBe(0)
    single = await snapshot()
    expect(single.passages.length).toBe(24)
    expect(single.passages.filter((p) => p["v"] !== null).length).toBe(16)
  })

  it("two workers share the ranges and leave the stores as a single-process run does", async () => {
    await fresh()
    const [a, b] = [await worker(), await worker()]
    const s = submit()
    expect(await exitOf(s), s.output()).toBe(0)
    expect(s.output()).toMatch(/all 8 checks passed/)
    expect(s.output()).toMatch(/MENTIONS relationships\s+48\s+48/)
    // 6 units of 4 ranges (fewer where a source has fewer rows than ranges), each run by one of the two.
    expect(ranges(a)).toBeGreaterThan(0)
    expect(ranges(b)).toBeGreaterThan(0)
    expect(await snapshot()).toEqual(single)
  })

  it("a worker SIGKILLed mid-run: its shards move to the survivor and the run completes exactly", async () => {
    await fresh()
    const [a, b] = [await worker(), await worker()]
    const s = submit()
    // Kill whichever worker reports a range first, while the run has units left.
    const first = await Promise.race([waitFor(a, /range \d+ of /).then(() => a), waitFor(b, /range \d+ of /).then(() => b)])
    first.child.kill("SIGKILL")
    expect(await exitOf(s), s.output()).toBe(0)
    const survivor = first === a ? b : a
    expect(ranges(survivor)).toBeGreaterThan(0)
    expect(s.output()).toMatch(/all 8 checks passed/)
    expect(await snapshot()).toEqual(single)
  })

  it("the submitting process SIGKILLed: the run goes on, status tells it, follow reattaches and reports", async () => {
    await fresh()
    await worker()
    await worker()
    const s = submit()
    const [, execution] = await waitFor(s, /submitted distributed run ([0-9a-f]+)/)
    s.child.kill("SIGKILL")
    await s.exited
    const followed = await run(runner("follow", execution!), env())
    expect(followed.code, followed.stderr).toBe(0)
    expect(followed.stdout).toMatch(/MENTIONS relationships\s+48\s+48/)
    expect(followed.stdout).toMatch(/all 8 checks passed/)
    const status = await run(runner("status", execution!), env())
    expect(status.code).toBe(0)
    expect(status.stdout).toMatch(/succeeded \(run [0-9a-f-]+, \d+ rows read, 0 rejected\)/)
    expect(await snapshot()).toEqual(single)
  })

  it("a worker joining mid-run takes work", async () => {
    await fresh()
    const a = await worker()
    const s = submit(16)
    // The run is under way on the one worker when the second starts.
    await waitFor(s, /submitted distributed run/)
    const late = await worker()
    expect(await exitOf(s), s.output()).toBe(0)
    expect(ranges(late)).toBeGreaterThan(0)
    expect(ranges(a)).toBeGreaterThan(0)
    expect(await snapshot()).toEqual(single)
  })

  it("bad rows: under fail the run fails with each row's key, under skip they are rejected once, under the unit's name, and the run exits 4", async () => {
    await fresh()
    await worker()
    await worker()
    // Beside a copy of batch-v1.yaml, so `extends: batch-v1` resolves; every worker reads the same path.
    const dir = mkdtempSync(join(tmpdir(), "cluster-"))
    copyFileSync("pipelines/batch-v1.yaml", join(dir, "batch-v1.yaml"))
    const texts = (policy: string) => `pipeline: badtexts
extends: batch-v1
sources:
  passages_to_embed:
    connection: pg
    key: passage_id
    sql: |
      SELECT p.passage_id, CASE p.passage_id WHEN '${passageId(0)}' THEN NULL WHEN '${passageId(9)}' THEN '' ELSE p.passage_text END AS passage_text
      FROM passages p WHERE p.passage_id IN (SELECT passage_id FROM passage_concepts WHERE extractor_version = :extractor_version)
${policy === "fail" ? "" : `steps:
  embed_passages:
    on_error: skip
    embed:
      from: passages_to_embed
      text: passage_text
      model: \${params.model}
      into: { table: passages, key: passage_id, vector: embedding, set: { embedding_model: "\${params.model}" } }
`}`
    const file = join(dir, "badtexts.yaml")
    writeFileSync(file, texts("fail"))
    // Through exitOf: a run that never ends fails with every process's output.
    const distributed = async (...extra: ReadonlyArray<string>) => {
      const p = launch(runner("run", "--pipeline", file, ...model, "--only", "embed_passages", "--distributed", "--ranges", "4", ...extra))
      const code = await exitOf(p, 180)
      return { code, stdout: p.stdout(), stderr: p.stderr() }
    }
    const failing = await distributed("--report", join(dir, "failed.json"))
    expect(failing.code, failing.stderr).toBe(1)
    // --report is written as a local run writes it, here for a failed run.
    const failedDoc = JSON.parse(readFileSync(join(dir, "failed.json"), "utf8")) as { status: string; exitCode: number; error: string }
    expect([failedDoc.status, failedDoc.exitCode]).toEqual(["failed", 1])
    expect(failedDoc.error).toContain(`passage_id="${passageId(0)}": passage_text is NULL`)
    // Both failing ranges are told, not only the first to fail.
    expect(failing.stderr).toContain(`passage_id="${passageId(0)}": passage_text is NULL`)
    expect(failing.stderr).toContain(`passage_id="${passageId(9)}": passage_text is empty`)
    expect(failing.stderr).not.toMatch(/at .*\.ts:\d+/)
    writeFileSync(file, texts("skip"))
    const skipping = await distributed("--no-resume", "--report", join(dir, "skipped.json"))
    expect(skipping.code, skipping.stderr).toBe(4)
    const doc = JSON.parse(readFileSync(join(dir, "skipped.json"), "utf8")) as { status: string; exitCode: number; runId: string; units: Array<{ unit: string; read: number; rejected: number }>; rejected: { count: number }; checks: unknown }
    expect([doc.status, doc.exitCode, doc.rejected.count]).toEqual(["completed with rejected rows", 4, 2])
    expect(doc.units.map((u) => [u.unit, u.read, u.rejected])).toEqual([["embed_passages", 16, 2]])
    expect(doc.runId).toMatch(/^[0-9a-f-]{36}$/)
    expect(skipping.stdout).toContain("rejected rows: 2")
    // The ranges without a bad row were written by the failed run: created now or unchanged, 14 in all.
    const [, created, unchanged] = /embed_passages\s+texts to embed.*?\s16\s+(\d+)\s+0\s+(\d+)\s+0\s+2\s/.exec(skipping.stdout) ?? []
    expect(Number(created) + Number(unchanged)).toBe(14)
    const recorded = await pgRows("SELECT unit, key->>0 AS k FROM polymath_etl.rejected_rows WHERE run_id = (SELECT run_id FROM polymath_etl.runs ORDER BY started_at DESC LIMIT 1) ORDER BY 2", [], db)
    expect(recorded).toEqual([{ unit: "embed_passages", k: passageId(0) }, { unit: "embed_passages", k: passageId(9) }])
    expect(await pgScalar("SELECT count(*) FROM passages WHERE embedding IS NOT NULL", [], db)).toBe(14)
  })

  it("a bad request is refused before anything is submitted, with the error a local run gives", async () => {
    await worker()
    const bad = await run(runner("run", "--pipeline", "batch-v1", ...model, "--distributed", "--ranges", "0"), env())
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/--ranges must be at least 1/)
    const missing = await run(runner("run", "--pipeline", "no-such-pipeline", "--distributed"), env())
    expect(missing.code).toBe(2)
    expect(missing.stderr).not.toMatch(/at .*\.ts:\d+/)
    // An id nobody submitted is not "running": status and follow say so and exit 2 at once.
    for (const command of ["status", "follow"]) {
      const unknown = await run(runner(command, "no-such-execution"), env())
      expect(unknown.code, unknown.stderr).toBe(2)
      expect(unknown.stderr).toMatch(/no distributed run no-such-execution in the cluster's storage/)
    }
  })
})
