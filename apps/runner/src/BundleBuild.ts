/**
 * Builds the runner's bundle (apps/runner/src/BundleCheck.ts says why and when it is used):
 * rolldown bundles the program (apps/runner/src/Program.ts) and the embedding thread
 * (libs/embeddings/src/OnnxThread.ts) with everything they import, except native add-ons, into a
 * new folder apps/runner/dist/<build>/, then writes apps/runner/dist/bundle.json (the build and
 * every source file it read, with size and mtime) by an atomic rename, so a runner that starts
 * meanwhile loads the old build or the new one, never half of one. Builds other than the new one and
 * the one it replaces are removed once ten minutes old. Not part of the program (nothing it loads imports this file).
 *
 *     npm run bundle                                      build (node apps/runner/src/BundleBuild.ts)
 *     node apps/runner/src/BundleBuild.ts --if-stale      build unless the bundle matches the sources
 *     node apps/runner/src/BundleBuild.ts ... --optional  when it cannot be built (no rolldown, a dev dependency): say so, succeed
 *
 * `npm ci` builds it (the `prepare` script), and so do `npm test` and the tests' global set-up when
 * it is stale. Without a current bundle the runner loads its sources: slower to start, same program.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs"
import { isAbsolute, join, relative, resolve, sep } from "node:path"
import { parseArgs } from "node:util"
import { bundleDir, checkBundle, manifestName, programEntry, threadEntry } from "./BundleCheck.ts"
import type { BundleInput, BundleManifest } from "./BundleCheck.ts"

const repoRoot = resolve(import.meta.dirname, "../../..")

// Native add-ons (and the packages that pick one per platform at run time) stay outside the bundle,
// loaded from node_modules as before.
const external = [/^onnxruntime-node($|\/)/, /^pg-native($|\/)/, /^tokenizers($|\/)/, /^@huggingface\/tokenizers($|\/)/, /\.node$/]

// Changes to node_modules show in these: npm rewrites them on every install.
const lockfiles = ["package-lock.json", join("node_modules", ".package-lock.json")]

export interface BundleResult {
  readonly built: boolean
  /** Why it was (re)built, or that it was current. */
  readonly reason: string
  readonly build: string | null
  readonly inputs: number
  readonly seconds: number
}

export interface BundleOptions {
  readonly root?: string
  /** The bundle folder (default apps/runner/dist under root). */
  readonly dir?: string
  readonly ifStale?: boolean
}

const inputOf = (root: string, file: string): BundleInput => {
  const s = statSync(join(root, file))
  return [file, s.size, s.mtimeMs]
}

/** The build the manifest names, current or not. */
const previousBuild = (dir: string): string | null => {
  try {
    const build = (JSON.parse(readFileSync(join(dir, manifestName), "utf8")) as { build?: unknown }).build
    return typeof build === "string" ? build : null
  } catch {
    return null
  }
}

export const buildRunnerBundle = async (options: BundleOptions = {}): Promise<BundleResult> => {
  const root = options.root ?? repoRoot
  const dir = options.dir ?? bundleDir(root)
  const t0 = performance.now()
  const before = checkBundle(root, dir)
  if (options.ifStale === true && before.fresh) return { built: false, reason: "current", build: null, inputs: 0, seconds: 0 }
  const reason = before.fresh ? "asked to" : before.reason
  const previous = previousBuild(dir)
  const id = `${Date.now().toString(36)}-${process.pid}`
  const out = join(dir, id)
  mkdirSync(dir, { recursive: true })
  // mtimes at or after this mark were written while the bundle was read: such a bundle is not recorded.
  const started = Date.now() - 1
  const { build } = await import("rolldown")
  const result = await build({
    cwd: root,
    input: { [programEntry.replace(/\.mjs$/, "")]: join(root, "apps/runner/src/Program.ts"), [threadEntry.replace(/\.mjs$/, "")]: join(root, "libs/embeddings/src/OnnxThread.ts") },
    platform: "node",
    external,
    logLevel: "warn",
    // Source maps: POLYMATH_DEBUG=1's stack traces name our source files (main.ts turns them on).
    output: { dir: out, format: "esm", entryFileNames: "[name].mjs", chunkFileNames: "[name]-[hash].mjs", keepNames: true, sourcemap: true }
  })
  const realRoot = realpathSync(root)
  const sources = new Set<string>()
  for (const chunk of result.output) {
    if (chunk.type !== "chunk") continue
    for (const id of chunk.moduleIds) {
      if (!isAbsolute(id)) continue
      const rel = relative(realRoot, realpathSync(id))
      if (rel.startsWith("..") || rel.split(sep).includes("node_modules")) continue
      sources.add(rel)
    }
  }
  if (sources.size === 0) throw new Error("the runner's bundle read no source file of the repository")
  const inputs = [...[...sources].sort(), ...lockfiles.filter((f) => existsSync(join(root, f)))].map((f) => inputOf(root, f))
  const moved = inputs.find(([, , mtimeMs]) => mtimeMs >= started)
  if (moved !== undefined) {
    rmSync(out, { recursive: true, force: true })
    throw new Error(`${moved[0]} changed while the runner's bundle was built; run it again`)
  }
  const manifest: BundleManifest = { version: 1, build: id, inputs }
  const tmp = join(dir, `${manifestName}.${process.pid}.tmp`)
  writeFileSync(tmp, JSON.stringify(manifest))
  renameSync(tmp, join(dir, manifestName))
  // Keep the build a runner that started a moment ago may still be loading chunks from.
  // A folder younger than ten minutes may be another build still being written (two `npm test`s).
  const keep = new Set([id, previous ?? ""])
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory() || keep.has(entry.name)) continue
    const folder = join(dir, entry.name)
    if (Date.now() - statSync(folder).mtimeMs > 10 * 60_000) rmSync(folder, { recursive: true, force: true })
  }
  return { built: true, reason, build: id, inputs: inputs.length, seconds: (performance.now() - t0) / 1000 }
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { "if-stale": { type: "boolean", default: false }, optional: { type: "boolean", default: false }, quiet: { type: "boolean", default: false } } })
  try {
    const r = await buildRunnerBundle({ ifStale: values["if-stale"] })
    // --quiet: nothing to say while the bundle is current; a rebuild is always reported.
    if (r.built) process.stderr.write(`bundle: built apps/runner/dist/${r.build} from ${r.inputs} files in ${r.seconds.toFixed(1)} s (${r.reason})\n`)
    else if (!values.quiet) process.stderr.write("bundle: apps/runner/dist is current\n")
  } catch (e) {
    const why = e instanceof Error ? e.message.split("\n")[0] : String(e)
    // --optional (npm ci's prepare): a bundle that cannot be built (no rolldown under --omit=dev, a
    // platform without its binary) must not fail the install; the runner starts from its sources.
    if (values.optional) process.stderr.write(`bundle: not built (${why}); the runner will start from its sources\n`)
    else process.stderr.write(`bundle: ${why}\n`)
    process.exit(values.optional ? 0 : 1)
  }
}
