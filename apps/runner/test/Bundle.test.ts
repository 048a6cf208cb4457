/**
 * The runner's bundle is a cache of its sources: used only while every file it was built from is
 * unchanged, and it runs the same program.
 */
import { spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { checkBundle, manifestName, programEntry, threadEntry } from "../src/BundleCheck.ts"
import type { BundleManifest } from "../src/BundleCheck.ts"
import { buildRunnerBundle } from "../src/BundleBuild.ts"

const repoRoot = resolve(import.meta.dirname, "../../..")
const temps: Array<string> = []
const temp = (): string => {
  const d = mkdtempSync(join(tmpdir(), "polymath-bundle-"))
  temps.push(d)
  return d
}
afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true })
})

/** A root with two source files and a bundle built "from" them. */
const fakeBundle = () => {
  const root = temp()
  mkdirSync(join(root, "src"))
  writeFileSync(join(root, "src", "a.ts"), "export const a = 1\n")
  writeFileSync(join(root, "src", "b's ü.ts"), "export const b = 2\n")
  const dir = join(root, "dist")
  mkdirSync(join(dir, "b1"), { recursive: true })
  writeFileSync(join(dir, "b1", programEntry), "")
  const input = (f: string) => {
    const s = statSync(join(root, f))
    return [f, s.size, s.mtimeMs] as const
  }
  const manifest: BundleManifest = { version: 1, build: "b1", inputs: [input("src/a.ts"), input("src/b's ü.ts")] }
  writeFileSync(join(dir, manifestName), JSON.stringify(manifest))
  return { root, dir }
}

describe("checkBundle", () => {
  it("gives the program's entry while every input is as built", () => {
    const { root, dir } = fakeBundle()
    expect(checkBundle(root, dir)).toEqual({ fresh: true, program: join(dir, "b1", programEntry) })
  })

  it("refuses a bundle whose input changed size, mtime or is gone, naming the file", () => {
    const edited = fakeBundle()
    writeFileSync(join(edited.root, "src", "a.ts"), "export const a = 10\n")
    expect(checkBundle(edited.root, edited.dir)).toEqual({ fresh: false, reason: "src/a.ts changed since the bundle was built" })

    // Same size, later mtime: an edit that kept the length.
    const touched = fakeBundle()
    const later = new Date(statSync(join(touched.root, "src", "b's ü.ts")).mtimeMs + 5000)
    utimesSync(join(touched.root, "src", "b's ü.ts"), later, later)
    expect(checkBundle(touched.root, touched.dir)).toEqual({ fresh: false, reason: "src/b's ü.ts changed since the bundle was built" })

    const removed = fakeBundle()
    rmSync(join(removed.root, "src", "a.ts"))
    expect(checkBundle(removed.root, removed.dir)).toEqual({ fresh: false, reason: "src/a.ts is gone since the bundle was built" })
  })

  it("refuses a missing, unreadable or empty manifest and a missing program", () => {
    const none = temp()
    expect(checkBundle(none, join(none, "dist"))).toMatchObject({ fresh: false, reason: expect.stringContaining("no bundle") })

    const bad = fakeBundle()
    writeFileSync(join(bad.dir, manifestName), "{not json")
    expect(checkBundle(bad.root, bad.dir)).toMatchObject({ fresh: false, reason: expect.stringContaining("unreadable bundle manifest") })
    writeFileSync(join(bad.dir, manifestName), JSON.stringify({ version: 1, build: "../../etc", inputs: [["src/a.ts", 1, 1]] }))
    expect(checkBundle(bad.root, bad.dir)).toMatchObject({ fresh: false, reason: expect.stringContaining("unreadable bundle manifest") })
    writeFileSync(join(bad.dir, manifestName), JSON.stringify({ version: 1, build: "b1", inputs: [] }))
    expect(checkBundle(bad.root, bad.dir)).toEqual({ fresh: false, reason: "the bundle manifest lists no inputs" })

    const gone = fakeBundle()
    rmSync(join(gone.dir, "b1"), { recursive: true })
    expect(checkBundle(gone.root, gone.dir)).toMatchObject({ fresh: false, reason: expect.stringContaining("is missing") })
  })
})

describe("buildRunnerBundle", () => {
  it("bundles the runner from this repository's sources, and the bundle runs", async () => {
    // Inside the repository, as the real one is: the bundle finds node_modules (its native
    // add-ons stay there) and the repository root by walking up from itself.
    mkdirSync(join(repoRoot, ".cache"), { recursive: true })
    const dir = mkdtempSync(join(repoRoot, ".cache", "bundle-test-"))
    temps.push(dir)
    const first = await buildRunnerBundle({ dir })
    expect(first.built).toBe(true)
    const state = checkBundle(repoRoot, dir)
    expect(state.fresh).toBe(true)
    const manifest = JSON.parse(readFileSync(join(dir, manifestName), "utf8")) as BundleManifest
    const paths = manifest.inputs.map(([p]) => p)
    // Our sources (the program, the thread, the libs) and the lockfile stand for node_modules.
    for (const p of ["apps/runner/src/Program.ts", "libs/embeddings/src/OnnxThread.ts", "libs/engine/src/index.ts", "libs/neo4j/src/GraphWrites.ts", "package-lock.json"]) expect(paths).toContain(p)
    expect(paths.some((p) => p.includes("node_modules/effect"))).toBe(false)
    expect(statSync(join(dir, manifest.build, threadEntry)).isFile()).toBe(true)

    // Current: not rebuilt.
    expect((await buildRunnerBundle({ dir, ifStale: true })).built).toBe(false)

    // The bundled program is the runner: its CLI answers, and refuses bad input the same way.
    const program = state.fresh ? state.program : ""
    const version = spawnSync(process.execPath, [program, "--version"], { encoding: "utf8" })
    expect(version.stdout).toMatch(/^polymath v\d+\.\d+\.\d+/)
    expect(version.status).toBe(0)
    const invalid = spawnSync(process.execPath, [program, "validate", "--pipeline", "no-such-pipeline"], { cwd: repoRoot, encoding: "utf8", env: { ...process.env, POLYMATH_PROFILE: "/dev/null" } })
    const fromSources = spawnSync(process.execPath, ["apps/runner/src/main.ts", "validate", "--pipeline", "no-such-pipeline"], { cwd: repoRoot, encoding: "utf8", env: { ...process.env, POLYMATH_PROFILE: "/dev/null", POLYMATH_BUNDLE: "off" } })
    expect(invalid.stderr).toContain("no-such-pipeline")
    expect(invalid.stderr).toBe(fromSources.stderr)
    expect(invalid.status).toBe(fromSources.status)

    // A rebuild replaces the build and keeps the one before (a runner may be loading from it);
    // older ones go once ten minutes old (younger ones may be another build being written).
    const second = await buildRunnerBundle({ dir })
    expect(second.built).toBe(true)
    expect(statSync(join(dir, manifest.build)).isDirectory()).toBe(true)
    const third = await buildRunnerBundle({ dir })
    expect(statSync(join(dir, second.build!)).isDirectory()).toBe(true)
    expect(statSync(join(dir, manifest.build)).isDirectory()).toBe(true)
    const old = new Date(Date.now() - 11 * 60_000)
    utimesSync(join(dir, manifest.build), old, old)
    utimesSync(join(dir, second.build!), old, old)
    const fourth = await buildRunnerBundle({ dir })
    expect(statSync(join(dir, manifest.build), { throwIfNoEntry: false })).toBeUndefined()
    expect(statSync(join(dir, second.build!), { throwIfNoEntry: false })).toBeUndefined()
    expect(statSync(join(dir, third.build!)).isDirectory()).toBe(true)
    expect(checkBundle(repoRoot, dir)).toEqual({ fresh: true, program: join(dir, fourth.build!, programEntry) })
  }, 60_000)
})

describe("main.ts", () => {
  const main = join(repoRoot, "apps/runner/src/main.ts")
  it("POLYMATH_BUNDLE takes auto, off or require, and nothing else", () => {
    const r = spawnSync(process.execPath, [main, "--version"], { encoding: "utf8", env: { ...process.env, POLYMATH_BUNDLE: "sometimes" } })
    expect(r.stderr).toBe("polymath: POLYMATH_BUNDLE must be auto, off or require, got \"sometimes\"\n")
    expect(r.status).toBe(2)
    const off = spawnSync(process.execPath, [main, "--version"], { encoding: "utf8", env: { ...process.env, POLYMATH_BUNDLE: "off" } })
    expect(off.stdout).toMatch(/^polymath v/)
    expect(off.status).toBe(0)
  })
})
