/**
 * Vitest global setup: make sure the local stack (Postgres + pgvector, Neo4j) is up and expose
 * its connection settings to the tests.
 *
 * - runs `bash tools/stack/stack.sh up` once per test run (progress on stderr; the first run on
 *   a fresh machine installs things and takes a few minutes, later runs return in about a second)
 * - reads `stack.sh env` and sets POSTGRES_DSN, NEO4J_URI, NEO4J_USER, NEO4J_PASSWORD unless the
 *   caller already set them
 * - never stops the stack: it is reused by the next run (`npm run stack -- down` stops it)
 *
 * - rebuilds the runner's bundle when it no longer matches the sources (apps/runner/src/BundleBuild.ts)
 *
 * POLYMATH_STACK_SKIP=1 skips the stack (e.g. when the variables point at other servers).
 */
import { execFileSync } from "node:child_process"
import * as path from "node:path"

const repoRoot = path.resolve(import.meta.dirname, "..", "..")
const script = path.join(repoRoot, "tools", "stack", "stack.sh")
const exported = ["POSTGRES_DSN", "NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD"] as const

/** Parses `export NAME=value` lines; values are bare words or POSIX single-quoted strings. */
export const parseEnvExports = (text: string): Map<string, string> => {
  const vars = new Map<string, string>()
  for (const line of text.split("\n")) {
    const match = /^export ([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim())
    if (match === null) continue
    const [, name, raw] = match
    if (name === undefined || raw === undefined) continue
    let value = ""
    for (let i = 0; i < raw.length; i++) {
      const ch = raw.charAt(i)
      if (ch === "'") {
        const end = raw.indexOf("'", i + 1)
        if (end < 0) throw new Error(`unterminated quote in stack env output: ${name}`)
        value += raw.slice(i + 1, end)
        i = end
      } else if (ch === "\\" && i + 1 < raw.length) {
        value += raw.charAt(i + 1)
        i++
      } else {
        value += ch
      }
    }
    vars.set(name, value)
  }
  return vars
}

export function setup(): void {
  // The tests start the runner as users do, from its bundle: rebuilt here when a source changed.
  execFileSync(process.execPath, [path.join(repoRoot, "apps", "runner", "src", "BundleBuild.ts"), "--if-stale", "--quiet"], { cwd: repoRoot, stdio: ["ignore", "inherit", "inherit"] })
  if (process.env["POLYMATH_STACK_SKIP"] === "1") return
  try {
    execFileSync("bash", [script, "up"], { cwd: repoRoot, stdio: ["ignore", "inherit", "inherit"] })
  } catch {
    throw new Error(
      "the local stack did not start (`bash tools/stack/stack.sh up`): see the messages above; logs are in .stack/*.log"
    )
  }
  const output = execFileSync("bash", [script, "env"], {
    cwd: repoRoot,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"]
  })
  const vars = parseEnvExports(output)
  for (const name of exported) {
    const value = vars.get(name)
    if (value === undefined) throw new Error(`\`stack.sh env\` did not print ${name}`)
    if (process.env[name] === undefined) process.env[name] = value
  }
}
