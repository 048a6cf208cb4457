/**
 * node tools/bench/dsl-load.ts [--reps R]
 *
 * How long a large pipeline file takes to answer (issue #10: under 2 s for 5 MB), side by
 * side with the floor, the YAML library parsing the same text. A file over 256 KiB is refused
 * before it is read, so the 5 MB file of 300,000 params is answered at once; the densest
 * file accepted (256 KiB of one flow list: the most YAML nodes per byte) is parsed, located,
 * checked, interpolated, decoded and linted. Prints medians, ratios, CPU flags.
 */
import { execSync } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { ConfigProvider, Effect, Exit } from "effect"
import { parse } from "yaml"
import { loadPipeline } from "@polymath/dsl"
import { densestPipeline, manyParamsPipeline } from "../../libs/dsl/test/largeFiles.ts"

const { values } = parseArgs({ options: { reps: { type: "string", default: "5" } } })
const reps = Number(values.reps)

const dir = mkdtempSync(join(tmpdir(), "dsl-load-"))
const files = {
  huge: { text: manyParamsPipeline("huge", 300_000), expect: "refused" },
  densest: { text: densestPipeline(), expect: "loaded" }
} as const
for (const [name, f] of Object.entries(files)) writeFileSync(join(dir, `${name}.yaml`), f.text)

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const time = async (f: () => Promise<unknown> | unknown) => {
  const t = performance.now()
  await f()
  return (performance.now() - t) / 1000
}
const load = async (name: keyof typeof files) => {
  const exit = await Effect.runPromise(Effect.exit(loadPipeline(join(dir, `${name}.yaml`), { allowMissingEnv: true, pipelinesDir: dir }).pipe(
    Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env: {} }))
  )))
  const got = Exit.isSuccess(exit) ? "loaded" : "refused"
  if (got !== files[name].expect) throw new Error(`${name}.yaml was ${got}, expected ${files[name].expect}`)
}

const runs: Record<string, Array<number>> = { hugeParse: [], hugeLoad: [], densestParse: [], densestLoad: [] }
for (let i = 0; i < reps; i++) {
  // Interleaved, so a burst of load on a shared machine hits all alike.
  runs["hugeParse"]!.push(await time(() => parse(files.huge.text, { uniqueKeys: false })))
  runs["hugeLoad"]!.push(await time(() => load("huge")))
  runs["densestParse"]!.push(await time(() => parse(files.densest.text, { uniqueKeys: false })))
  runs["densestLoad"]!.push(await time(() => load("densest")))
}
const flags = (() => {
  try {
    const f = execSync("lscpu", { encoding: "utf8" }).match(/^Flags:\s*(.*)$/m)?.[1] ?? ""
    return ["avx512f", "avx2"].filter((x) => f.split(" ").includes(x)).join(", ") || "neither avx2 nor avx512f"
  } catch {
    return "lscpu unavailable"
  }
})()
const mb = (s: string) => (Buffer.byteLength(s) / 1024 / 1024).toFixed(2)
const row = (what: string, xs: ReadonlyArray<number>) => console.log(`${what.padEnd(52)} ${median(xs).toFixed(3).padStart(8)}   ${xs.map((x) => x.toFixed(3)).join(" ")}`)
console.log(`${reps} reps, CPU: ${flags}, ${execSync("nproc", { encoding: "utf8" }).trim()} cores`)
console.log(`${"what".padEnd(52)} ${"median s".padStart(8)}   runs`)
row(`5 MB file (${mb(files.huge.text)} MiB, 300,000 params): yaml.parse`, runs["hugeParse"]!)
row(`5 MB file: loadPipeline (refused, over 256 KiB)`, runs["hugeLoad"]!)
row(`densest accepted (${mb(files.densest.text)} MiB): yaml.parse`, runs["densestParse"]!)
row(`densest accepted: loadPipeline (loaded)`, runs["densestLoad"]!)
console.log(`ratio loadPipeline / yaml.parse, densest accepted: ${(median(runs["densestLoad"]!) / median(runs["densestParse"]!)).toFixed(2)}`)
