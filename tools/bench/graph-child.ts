/**
 * Child-process entry of `bench graph` for the two scripts: `node graph-child.ts seed|hand`, configured
 * by POLYMATH_BENCH_GRAPH (JSON of ContenderConfig), so the parent measures its wall time and peak RSS.
 */
import { handContender, seedContender } from "./graph-contenders.ts"
import type { ContenderConfig } from "./graph-contenders.ts"

const which = process.argv[2]
const config = JSON.parse(process.env["POLYMATH_BENCH_GRAPH"] ?? "{}") as ContenderConfig
const run = which === "seed" ? seedContender : which === "hand" ? handContender : null
if (run === null) {
  process.stderr.write("usage: graph-child.ts seed|hand\n")
  process.exit(2)
}
run(config).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${which}: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(1)
  }
)
