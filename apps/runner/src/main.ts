#!/usr/bin/env node
// The entry point: sets the heap's growth and turns on Node's compile cache, then loads the program.
//
// Compile cache: parsing and compiling the runner's modules took ~0.4 s of every start (1.05 -> 0.67 s
// for `--version`); the cache, kept by Node in its own directory and keyed by each file's contents,
// skips that after the first start. It must be on before the program's static imports are parsed,
// hence the dynamic import. NODE_DISABLE_COMPILE_CACHE=1 turns it off; NODE_COMPILE_CACHE picks the
// directory.
//
// Heap growth: a sync streams pages through the process, so nearly everything it allocates is
// garbage a page later, yet V8 let the old space grow to ~4x what survived its collections (scale 100
// graph sync: 84 MiB live at most, 421 MiB heap, 562 MiB RSS). Growing it by 20 % over the live data
// instead: 218 MiB heap, 337 MiB RSS, no slower (tools/bench/README.md, "Heap growth"). NODE_OPTIONS
// may not carry this flag, so it is set here, before the program allocates;
// POLYMATH_HEAP_GROWING_PERCENT overrides it (0: V8's own heuristic).
//
// Bundle: the program is loaded from the runner's bundle when it matches the sources (BundleCheck.ts:
// 0.43 -> 0.17 s for `--version`), else from the sources. POLYMATH_BUNDLE=off always loads the sources;
// POLYMATH_BUNDLE=require refuses to start without a current bundle (the tests use it to know which ran).
import { enableCompileCache } from "node:module"
import { resolve } from "node:path"
import { pathToFileURL } from "node:url"
import { setFlagsFromString } from "node:v8"
import { checkBundle } from "./BundleCheck.ts"

// eslint-disable-next-line no-restricted-properties -- read before the program, and Effect's Config with it, is loaded
const growing = process.env["POLYMATH_HEAP_GROWING_PERCENT"]?.trim() || "20"
if (/^[0-9]{1,4}$/.test(growing)) setFlagsFromString(`--heap-growing-percent=${growing}`)
else process.stderr.write(`polymath: POLYMATH_HEAP_GROWING_PERCENT must be a whole number, got ${JSON.stringify(growing)}; using V8's default\n`)
enableCompileCache()

// eslint-disable-next-line no-restricted-properties -- as above
const mode = process.env["POLYMATH_BUNDLE"]?.trim().toLowerCase() || "auto"
if (mode !== "auto" && mode !== "off" && mode !== "require") {
  process.stderr.write(`polymath: POLYMATH_BUNDLE must be auto, off or require, got ${JSON.stringify(mode)}\n`)
  process.exit(2)
}
const bundle = mode === "off" ? null : checkBundle(resolve(import.meta.dirname, "../../.."))
if (mode === "require" && bundle?.fresh !== true) {
  process.stderr.write(`polymath: POLYMATH_BUNDLE=require, but ${bundle?.fresh === false ? bundle.reason : "the bundle is off"}\n`)
  process.exit(2)
}
if (bundle?.fresh === true) {
  // POLYMATH_DEBUG=1 prints stack traces: through the bundle's source maps they name our sources.
  // eslint-disable-next-line no-restricted-properties -- as above
  if (/^(1|true|yes|on)$/i.test(process.env["POLYMATH_DEBUG"]?.trim() ?? "")) process.setSourceMapsEnabled(true)
  await import(pathToFileURL(bundle.program).href)
} else {
  await import("./Program.ts")
}
