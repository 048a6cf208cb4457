/**
 * node tools/bench/dsl-load.ts [--reps R]
 *
 * How long loading a large pipeline file takes (issue #10: under 2 s for 5 MB), side by
 * side with the floor: the YAML library parsing the same text (our loader parses it too,
 * then locates, checks and decodes it). Prints medians, the ratio, and the CPU flags.
 */
import { execSync } from "node:child_process"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { Effect } from "effect"
import { parse } from "yaml"
import { loadPipeline } from "@polymath/dsl"

const { values } = parseArgs({ options: { reps: { type: "string", default: "3" } } })
const reps = Number(values.reps)

const dir = mkdtempSync(join(tmpdir(), "dsl-load-"))
const file = join(dir, "big.yaml")
const params = Array.from({ length: 300_000 }, (_, i) => `  p${i}: ${i}`).join("\n")
writeFileSync(file, `pipeline: big
params:
${params}
  version: v1
connections:
  pg: { postgres: { dsn: "postgres://etl@localhost/corpus" } }
sources:
  papers: { connection: pg, key: paper_id, sql: "SELECT paper_id, abstract FROM papers WHERE version = :version" }
steps:
  embed_papers:
    embed: { from: papers, text: abstract, model: small, into: { table: papers, key: paper_id, vector: embedding } }
`)
const text = readFileSync(file, "utf8")

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const time = async (f: () => Promise<unknown> | unknown) => {
  const t = performance.now()
  await f()
  return (performance.now() - t) / 1000
}

const loader: Array<number> = []
const library: Array<number> = []
for (let i = 0; i < reps; i++) {
  // Interleaved, so a burst of load on a shared machine hits both alike.
  library.push(await time(() => parse(text, { uniqueKeys: false })))
  loader.push(await time(() => Effect.runPromise(Effect.exit(loadPipeline(file, { allowMissingEnv: true })))))
}
const flags = (() => {
  try {
    const f = execSync("lscpu", { encoding: "utf8" }).match(/^Flags:\s*(.*)$/m)?.[1] ?? ""
    return ["avx512f", "avx2"].filter((x) => f.split(" ").includes(x)).join(", ") || "neither avx2 nor avx512f"
  } catch {
    return "lscpu unavailable"
  }
})()
console.log(`5 MB pipeline file (${(text.length / 1e6).toFixed(1)} MB, 300,000 params), ${reps} reps, CPU: ${flags}`)
console.log("what                              median s   runs")
console.log(`yaml.parse alone (the floor)      ${median(library).toFixed(2).padStart(8)}   ${library.map((x) => x.toFixed(2)).join(" ")}`)
console.log(`loadPipeline (parse+check+decode) ${median(loader).toFixed(2).padStart(8)}   ${loader.map((x) => x.toFixed(2)).join(" ")}`)
console.log(`ratio loader / floor              ${(median(loader) / median(library)).toFixed(2).padStart(8)}`)
