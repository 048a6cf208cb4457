import { spawn } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"

/*
 * SIGTERM and Ctrl-C are honoured while a large pipeline file loads: the loader lets the
 * event loop turn between its stages, so the signal interrupts the load there instead of
 * after it, and the command exits 130 with one line, no stack trace and no result.
 */

const main = join(import.meta.dirname, "../src/main.ts")
const dir = mkdtempSync(join(tmpdir(), "polymath-signals-"))
// The densest file accepted (256 KiB of one flow list): about a second of loading on a slow machine.
const file = join(dir, "densest.yaml")
// The same file as libs/dsl/test/largeFiles.ts builds (a test cannot import another project's tests).
writeFileSync(file, `pipeline: densest
connections:
  pg: { postgres: { dsn: "postgres://etl@localhost/corpus" } }
  graph: { neo4j: { uri: "bolt://localhost:7687", user: neo4j, password: x } }
sources:
  papers: { connection: pg, key: paper_id, sql: "SELECT * FROM papers" }
steps:
  g:
    graph:
      connection: graph
      nodes:
        - { label: Paper, from: papers, key: paper_id, properties: [${Array.from({ length: 33_000 }, (_, i) => `c${i}`).join(", ")}] }
`)

/** Starts `validate` at debug level and sends `signal` the moment it says it is loading. */
const interruptWhileLoading = (signal: NodeJS.Signals) =>
  new Promise<{ code: number | null; stdout: string; stderr: string; afterSignalMs: number; loadingSeen: boolean }>((resolve) => {
    const child = spawn(process.execPath, [main, "validate", "--pipeline", file, "--log-level", "debug"], {
      env: { ...process.env, POLYMATH_PROFILE: "/dev/null", NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    let signalledAt = 0
    child.stdout.on("data", (d) => (stdout += d))
    child.stderr.on("data", (d) => {
      stderr += d
      if (signalledAt === 0 && stderr.includes("loading ")) {
        signalledAt = performance.now()
        child.kill(signal)
      }
    })
    child.on("close", (code) => resolve({ code, stdout, stderr, afterSignalMs: performance.now() - signalledAt, loadingSeen: signalledAt > 0 }))
  })

describe("signals while a pipeline file loads", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`${signal} interrupts the load: exit 130, one line, no result`, async () => {
      const r = await interruptWhileLoading(signal)
      expect(r.loadingSeen, r.stderr).toBe(true)
      expect(r.code, r.stderr).toBe(130)
      expect(r.stderr).toContain("interrupted: nothing was written")
      expect(r.stdout).not.toContain("ok (")
      expect(r.stderr).not.toMatch(/\n\s+at /)
      // The load takes about a second here; an uninterruptible one would still end, so this
      // bound only says the process did not go on past it to do more work.
      expect(r.afterSignalMs).toBeLessThan(15_000)
    }, 60_000)
  }

  it("without a signal the same file validates (so the test above interrupted real work)", async () => {
    const r = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const child = spawn(process.execPath, [main, "validate", "--pipeline", file], { env: { ...process.env, POLYMATH_PROFILE: "/dev/null" }, stdio: ["ignore", "pipe", "pipe"] })
      let stdout = ""
      child.stdout.on("data", (d) => (stdout += d))
      child.on("close", (code) => resolve({ code, stdout }))
    })
    expect(r.code).toBe(0)
    expect(r.stdout).toContain("densest.yaml: ok (1 steps, 0 checks)")
  }, 60_000)
})
