/**
 * Whether the runner's bundle (apps/runner/src/BundleBuild.ts) matches the sources it was built from.
 *
 * Loading the program from hundreds of separate files (the bundle holds ~1,100 modules: ~160 of
 * ours, the rest Effect's and the drivers'), each resolved, read and compiled on its own, took
 * 0.43 s of `--version`; from the bundle it takes 0.17 s. It is only ever a cache: main.ts loads it when every source file it was built from is as
 * it was (size and mtime, and the lockfiles for node_modules), and the sources otherwise. The check
 * stats a few hundred files (a couple of milliseconds). It imports nothing but Node built-ins, as it
 * runs before the program is loaded.
 */
import { readFileSync, statSync } from "node:fs"
import { join } from "node:path"

/** One input of the bundle: a path relative to the repository root, its size and mtime when built. */
export type BundleInput = readonly [path: string, size: number, mtimeMs: number]

export interface BundleManifest {
  readonly version: 1
  /** The build's folder, inside the bundle folder. */
  readonly build: string
  readonly inputs: ReadonlyArray<BundleInput>
}

/** Where the bundle lives (git-ignored, like every `dist/`). */
export const bundleDir = (root: string): string => join(root, "apps", "runner", "dist")
export const manifestName = "bundle.json"
/** The program's entry and the embedding thread's, inside a build's folder. */
export const programEntry = "Program.mjs"
export const threadEntry = "OnnxThread.mjs"

export type BundleState =
  | { readonly fresh: true; readonly program: string }
  | { readonly fresh: false; readonly reason: string }

const stale = (reason: string): BundleState => ({ fresh: false, reason })

const readManifest = (file: string): BundleManifest | string => {
  let raw: string
  try {
    raw = readFileSync(file, "utf8")
  } catch {
    return `no bundle (${file}); \`npm run bundle\` builds it`
  }
  try {
    const m = JSON.parse(raw) as Partial<BundleManifest>
    if (m.version !== 1 || typeof m.build !== "string" || !/^[A-Za-z0-9-]+$/.test(m.build) || !Array.isArray(m.inputs)) return `unreadable bundle manifest ${file}`
    return m as BundleManifest
  } catch {
    return `unreadable bundle manifest ${file}`
  }
}

/** The bundle's program entry when every input is unchanged, else why not. */
export const checkBundle = (root: string, dir: string = bundleDir(root)): BundleState => {
  const m = readManifest(join(dir, manifestName))
  if (typeof m === "string") return stale(m)
  if (m.inputs.length === 0) return stale("the bundle manifest lists no inputs")
  for (const input of m.inputs) {
    if (!Array.isArray(input) || input.length !== 3) return stale("unreadable bundle manifest")
    const [path, size, mtimeMs] = input
    const s = statSync(join(root, path), { throwIfNoEntry: false })
    if (s === undefined) return stale(`${path} is gone since the bundle was built`)
    if (s.size !== size || s.mtimeMs !== mtimeMs) return stale(`${path} changed since the bundle was built`)
  }
  const program = join(dir, m.build, programEntry)
  if (statSync(program, { throwIfNoEntry: false }) === undefined) return stale(`the bundle's ${program} is missing`)
  return { fresh: true, program }
}
