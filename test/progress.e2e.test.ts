/**
 * Live progress as people see it: in a real pseudo-terminal (util-linux `script`) the
 * runner redraws one line per running unit in place and leaves one final line per unit;
 * in a pipe it writes plain lines only. On the movies example with two-row pages, so
 * every unit takes several batches, in a database of its own.
 */
import { spawn, spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { e2eEnv, pgExec, resetDatabase, resetGraph, run, runner } from "./support.ts"

const db = "polymath_progress"
const dir = mkdtempSync(join(tmpdir(), "progress-"))
const pipeline = join(dir, "movies_small_pages.yaml")
const model = ["--set", "model=bge-small-en-v1.5-q"]
const hasScript = spawnSync("script", ["-qec", "true", "/dev/null"]).status === 0

// The sources of movies.yaml with two-row pages (an entry of `sources` is replaced whole).
writeFileSync(pipeline, `pipeline: movies_small_pages
extends: ${resolve("pipelines/examples/movies.yaml")}
sources:
  plots:
    connection: pg
    key: movie_id
    page_size: 2
    incremental: { cursor: updated_at }
    sql: SELECT movie_id, plot, updated_at FROM movies
  movies:
    connection: pg
    key: movie_id
    page_size: 2
    sql: SELECT movie_id, title, released FROM movies
  credits:
    connection: pg
    key: [person_id, movie_id, role]
    page_size: 2
    sql: |
      SELECT r.person_id, r.movie_id, r.role, p.name, p.born, m.released
      FROM roles r
      JOIN people p ON p.person_id = r.person_id
      JOIN movies m ON m.movie_id = r.movie_id
  genres:
    connection: pg
    key: genre_id
    page_size: 2
    sql: SELECT genre_id, name FROM genres
  movie_genres:
    connection: pg
    key: [movie_id, genre_id]
    page_size: 2
    sql: SELECT movie_id, genre_id FROM movie_genres
`)

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

/** Runs a command in a pseudo-terminal 100 columns wide and returns all it wrote there. */
const inTerminal = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv) =>
  new Promise<{ code: number | null; output: string }>((done) => {
    const command = `stty cols 100 rows 40; exec ${[process.execPath, ...args].map(quote).join(" ")}`
    const child = spawn("script", ["-qec", command, "/dev/null"], { cwd: process.cwd(), env, stdio: ["pipe", "pipe", "pipe"] })
    let output = ""
    child.stdout.on("data", (d: Buffer) => (output += d.toString()))
    child.stderr.on("data", (d: Buffer) => (output += d.toString()))
    child.on("close", (code) => done({ code, output }))
  })

/** The screen a terminal shows after `text`: newlines, cursor up (ESC[nA) and erase below (ESC[J). */
const screen = (text: string): Array<string> => {
  const lines: Array<string> = [""]
  let row = 0
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (c === "\x1b") {
      const m = /^\x1b\[(\d*)([A-Za-z])/.exec(text.slice(i))!
      if (m[2] === "A") row = Math.max(0, row - Number(m[1] || 1))
      if (m[2] === "J") {
        lines.splice(row + 1)
        lines[row] = ""
      }
      i += m[0].length - 1
    } else if (c === "\n") {
      row++
      if (lines.length <= row) lines.push("")
    } else if (c !== "\r") lines[row] += c
  }
  return lines.filter((l) => l !== "")
}

const units = ["embed_plots", "sync_graph/nodes[0]:Movie", "sync_graph/nodes[1]:Genre", "sync_graph/nodes[2]:Person", "sync_graph/relationships[0]:ACTED_IN", "sync_graph/relationships[1]:IN_GENRE"]

describe("progress", () => {
  beforeAll(async () => {
    await resetDatabase(db)
    await pgExec(readFileSync("pipelines/examples/movies.sql", "utf8"), [], db)
    await resetGraph(["Movie", "Person", "Genre"])
  })

  it("on a terminal: live lines redrawn in place, then one final line per unit", async () => {
    // A missing `script` (util-linux) is a broken test machine, not a reason to skip.
    expect(hasScript, "util-linux `script` is needed to run the runner in a pseudo-terminal").toBe(true)
    const r = await inTerminal(runner("run", `--pipeline=${pipeline}`, ...model), e2eEnv(db))
    expect(r.code, r.output).toBe(4)
    // Live lines: a bar per running unit, erased and drawn again many times (that several
    // units share the screen is timing here; apps/runner/test/ProgressRenderer.test.ts shows it).
    expect(r.output).toMatch(/\[[#-]{20}\] embed_plots: \d+\/\d+ rows \(\d+%\), [\d.]+ rows\/s, \d+s, ETA /)
    expect(r.output.match(/\x1b\[\d+A\x1b\[J/g)?.length ?? 0).toBeGreaterThan(units.length)
    // What stays: every unit's final line, no bar, no percent past 100.
    const shown = screen(r.output)
    for (const u of units) expect(shown.filter((l) => l.startsWith(`${u}: `) && l.endsWith(", done")), shown.join("\n")).toHaveLength(1)
    expect(shown.some((l) => /^\[[#-]{20}\] /.test(l))).toBe(false)
    const percents = [...r.output.matchAll(/\((\d+)%\)/g)].map((m) => Number(m[1]))
    expect(Math.max(...percents)).toBe(100)
  })

  it("in a pipe: plain start and done lines, no escape codes", async () => {
    const r = await run(runner("run", `--pipeline=${pipeline}`, ...model), e2eEnv(db))
    expect([0, 4], r.stderr).toContain(r.code)
    expect(r.stderr).not.toContain("\x1b")
    const lines = r.stderr.split("\n")
    for (const u of units) {
      expect(lines.filter((l) => l.startsWith(`${u}: starting, `)), r.stderr).toHaveLength(1)
      expect(lines.filter((l) => new RegExp(`^${u.replace(/[[\]]/g, "\\$&")}: \\d+(/\\d+)? rows.*, done$`).test(l)), r.stderr).toHaveLength(1)
    }
  })
})
