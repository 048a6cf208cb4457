/**
 * Run reports (`--report FILE`): written when the run succeeds, fails or is interrupted,
 * as JSON or Markdown, with the run's identity, times, status, counts, retries and
 * checks; and an unwritable path refused before anything connects. On the movies
 * example, in a database of its own.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { e2eEnv, pgExec, resetDatabase, resetGraph, run, runner, start } from "./support.ts"

const db = "polymath_report"
const model = ["--set", "model=bge-small-en-v1.5-q"]
const dir = mkdtempSync(join(tmpdir(), "report-"))
const movies = join(process.cwd(), "pipelines/examples/movies.yaml")
const env = () => e2eEnv(db)

interface Doc {
  readonly pipeline: string
  readonly file: string
  readonly params: Record<string, unknown>
  readonly models: ReadonlyArray<string>
  readonly runId: string | null
  readonly startedAt: string
  readonly endedAt: string
  readonly status: string
  readonly exitCode: number
  readonly error: string | null
  readonly units: ReadonlyArray<{ unit: string; read: number; status: string }>
  readonly retries: Record<string, number>
  readonly checks: ReadonlyArray<{ name: string; ok: boolean }> | null
  readonly rejected: { count: number }
}
const read = (file: string) => JSON.parse(readFileSync(file, "utf8")) as Doc

/** A pipeline extending the movies example with `extra` YAML appended. */
const variant = (name: string, extra: string): string => {
  const file = join(dir, `${name}.yaml`)
  writeFileSync(file, `pipeline: ${name}\nextends: ${movies}\n${extra}`)
  return file
}

describe("run reports", () => {
  beforeAll(async () => {
    await resetDatabase(db)
    await pgExec(readFileSync("pipelines/examples/movies.sql", "utf8"), [], db)
    await resetGraph(["Movie", "Person", "Genre"])
  })

  it("a completed run: JSON with identity, times, status, counts, retries and checks; Markdown for .md", async () => {
    const file = join(dir, "first.json")
    const r = await run(runner("run", "--pipeline=pipelines/examples/movies.yaml", ...model, "--report", file), env())
    expect(r.code, r.stderr).toBe(4)
    const d = read(file)
    expect(d).toMatchObject({ pipeline: "movies", status: "completed with rejected rows", exitCode: 4, error: null, models: ["bge-small-en-v1.5-q"], retries: {} })
    expect(d.file).toContain("movies.yaml")
    expect(d.params).toMatchObject({ model: "bge-small-en-v1.5-q", dataset: "movies-demo" })
    expect(d.runId).toMatch(/^[0-9a-f-]{36}$/)
    expect(Date.parse(d.endedAt)).toBeGreaterThanOrEqual(Date.parse(d.startedAt))
    expect(d.units.map((u) => u.unit)).toContain("sync_graph/nodes[0]:Movie")
    expect(d.units.find((u) => u.unit === "sync_graph/nodes[0]:Movie")).toMatchObject({ read: 12, status: "done" })
    expect(d.checks).toHaveLength(8)
    expect(d.checks!.every((c) => c.ok)).toBe(true)
    expect(d.rejected.count).toBe(2)

    const md = join(dir, "second.md")
    const again = await run(runner("run", "--pipeline=pipelines/examples/movies.yaml", ...model, "--report", md), env())
    expect([0, 4]).toContain(again.code)
    const text = readFileSync(md, "utf8")
    expect(text).toMatch(/^# movies: (succeeded|completed with rejected rows)\n/)
    expect(text).toContain("| unit | status | read |")
    expect(text).toContain("## Checks")
  })

  it("a failed run still writes its report, with the error and what the units did", async () => {
    // More plots that cannot be embedded than the step's max_rejected (5) fails the run.
    const file = join(dir, "failed.json")
    await pgExec("CREATE TABLE plots_before AS SELECT movie_id, plot FROM movies", [], db)
    await pgExec("UPDATE movies SET plot = NULL, updated_at = now() WHERE movie_id <= 8", [], db)
    const r = await run(runner("run", "--pipeline=pipelines/examples/movies.yaml", ...model, "--report", file), env())
    await pgExec("UPDATE movies m SET plot = b.plot, updated_at = now() FROM plots_before b WHERE b.movie_id = m.movie_id; DROP TABLE plots_before", [], db)
    expect(r.code, r.stderr).toBe(1)
    const d = read(file)
    expect(d).toMatchObject({ pipeline: "movies", status: "failed", exitCode: 1 })
    expect(d.error).toContain("more than its max_rejected (5)")
    expect(d.runId).toMatch(/^[0-9a-f-]{36}$/)
    expect(d.units.length).toBeGreaterThan(0)
    expect(d.checks).toBeNull()
  })

  it("an interrupted run writes its report with status interrupted", async () => {
    // Each row of this source takes a moment to read, so the run is surely in flight when interrupted.
    const pipeline = variant("movies_slow", "sources:\n  movies:\n    connection: pg\n    key: movie_id\n    sql: SELECT movie_id, title, released FROM movies WHERE pg_sleep(0.3) IS NOT NULL\n")
    const file = join(dir, "interrupted.json")
    const { child, done } = start(runner("run", `--pipeline=${pipeline}`, ...model, "--report", file), env())
    let stderr = ""
    let sent = false
    child.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString()
      // Once: a second Ctrl-C is the user insisting, and ends the process at once.
      if (!sent && /^run [0-9a-f-]{36}$/m.test(stderr)) {
        sent = true
        child.kill("SIGINT")
      }
    })
    const r = await done
    expect(r.code, r.stderr).toBe(130)
    const d = read(file)
    expect(d).toMatchObject({ pipeline: "movies_slow", status: "interrupted", exitCode: 130 })
    expect(d.runId).toMatch(/^[0-9a-f-]{36}$/)
  })

  it("an unwritable report path is refused before anything connects", async () => {
    // Postgres at a closed port: a command that connected would fail there, not here.
    const r = await run(runner("run", "--pipeline=pipelines/examples/movies.yaml", ...model, "--report", join(dir, "missing", "r.json")), { ...env(), POSTGRES_DSN: "postgres://nobody@127.0.0.1:9/none" })
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^error: cannot write the run report to .*missing\/r\.json: the directory .*missing does not exist$/m)
    expect(r.stderr).not.toContain("127.0.0.1:9")
  })
})
