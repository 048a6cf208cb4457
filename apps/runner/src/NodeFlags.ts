/**
 * The V8 flags every launcher of the runner starts Node with: `bin/polymath`, the nx targets
 * (`apps/runner/project.json`), the npm scripts, `tools/demo.sh` and the benchmarks.
 * `apps/runner/test/Launchers.test.ts` checks that each carries them. V8 sizes its young generation when
 * the process starts, so unlike the old space's growth (set in main.ts) these cannot be set
 * once the program runs; `node apps/runner/src/main.ts` without them works, with a larger heap.
 *
 * `--max-semi-space-size=16` (MiB): under a sync's allocation rate V8 grew the young generation
 * to 64 MiB semi-spaces; pages in flight survive a few scavenges, so a larger young generation
 * kept them out of the old space, but the process held ~100 MiB more at scale 100 than at
 * scale 1. With 16: graph-sync peak RSS 168 / 214 MiB at scales 1 / 100 (1.28x) against 194 / 329
 * (1.70x) without; about 9% slower at scale 100 in one run each (tools/bench/README.md, "Young generation").
 */
export const runnerNodeFlags: ReadonlyArray<string> = ["--max-semi-space-size=16"]
