/**
 * Every launcher of the runner starts Node with the runner's V8 flags (NodeFlags.ts): V8 reads
 * them only at start-up, so a launcher that forgets them silently runs with a larger heap.
 */
import { spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { runnerNodeFlags } from "../src/NodeFlags.ts"

const root = fileURLToPath(new URL("../../../", import.meta.url))
const read = (path: string): string => readFileSync(`${root}${path}`, "utf8")

// Each command line that starts the runner's main.ts, found wherever the file names it.
const launches = (text: string): ReadonlyArray<string> => text.split("\n").filter((line) => /apps\/runner\/src\/main\.ts/.test(line) && /\bnode\b|\$node/.test(line))

describe("launchers", () => {
  const files = ["apps/runner/bin/polymath", "apps/runner/project.json", "package.json", "tools/demo.sh"]

  it.each(files)("%s starts the runner with its V8 flags", (file) => {
    const lines = launches(read(file))
    expect(lines.length, `${file} names no runner launch`).toBeGreaterThan(0)
    for (const line of lines) {
      for (const flag of runnerNodeFlags) expect(line, `${file}: ${line.trim()}`).toContain(` ${flag} `)
    }
  })

  it("Node starts with the flags (it refuses an option it does not know)", () => {
    const r = spawnSync(process.execPath, [...runnerNodeFlags, "-e", "0"], { encoding: "utf8" })
    expect(r.stderr).toBe("")
    expect(r.status).toBe(0)
  })
})
