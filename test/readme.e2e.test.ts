/**
 * The README's "Using it" commands work as written: each command line of that section
 * is extracted and run, in order, in one shell per line, on a small corpus in the
 * demo's schema (tens of passages, not the 973-passage demo), with a profile file like
 * the one `npm run demo` writes. The `eval` line runs too; the test then points
 * POSTGRES_DSN at its own database so it never touches the demo's.
 */
import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { loadSmallCorpus } from "./corpus.ts"
import { dsnFor, resetDatabase, resetGraph } from "./support.ts"

const db = "polymath_readme"
const dir = mkdtempSync(join(tmpdir(), "readme-"))
const profile = join(dir, "polymath.local.yaml")

/** The command lines of the README's "Using it" section, comments stripped. */
const usingIt = (): ReadonlyArray<string> => {
  const text = readFileSync("README.md", "utf8")
  const section = text.slice(text.indexOf("## Using it"), text.indexOf("\n## ", text.indexOf("## Using it") + 1))
  return section.split("\n")
    .filter((l) => /^ {4}(npx |eval )/.test(l))
    .map((l) => l.trim().replace(/\s+#\s.*$/, ""))
}

describe("the README", () => {
  const commands = usingIt()
  let setup = ""

  beforeAll(async () => {
    await resetDatabase(db)
    await loadSmallCorpus(db)
    await resetGraph()
    // What npm run demo writes, with the model the test suite has fetched.
    writeFileSync(profile, "params:\n  model: bge-small-en-v1.5\n")
    const evalLine = commands.find((c) => c.startsWith("eval "))
    setup = `${evalLine ?? ""}\nexport POSTGRES_DSN='${dsnFor(db)}'`
  })

  it("names the commands a new user needs", () => {
    expect(commands.length).toBeGreaterThanOrEqual(8)
    for (const c of ["validate", "test", "plan", "run", "verify", "runner:exec"]) expect(commands.some((x) => x.includes(c))).toBe(true)
  })

  it("every command of \"Using it\" exits 0 as written", () => {
    const results: Array<{ command: string; code: number | null; tail: string }> = []
    for (const command of commands.filter((c) => !c.startsWith("eval "))) {
      const r = spawnSync("bash", ["-c", `set -e\n${setup}\n${command}`], {
        cwd: process.cwd(),
        env: { ...process.env, POLYMATH_PROFILE: profile },
        encoding: "utf8",
        timeout: 300_000
      })
      results.push({ command, code: r.status, tail: `${r.stdout}\n${r.stderr}`.trim().split("\n").slice(-6).join("\n") })
    }
    const failed = results.filter((r) => r.code !== 0)
    expect(failed, failed.map((f) => `${f.command} -> ${f.code}\n${f.tail}`).join("\n\n")).toEqual([])
    // The run wrote the report it was asked for, and said which profile it used.
    expect(existsSync("run.json")).toBe(true)
    const report = JSON.parse(readFileSync("run.json", "utf8")) as { status: string; params: Record<string, unknown> }
    expect(report).toMatchObject({ status: "succeeded", params: { model: "bge-small-en-v1.5" } })
    rmSync("run.json")
  })
})
