import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Cause, ConfigProvider, Effect, Exit } from "effect"
import { densestPipeline, manyParamsPipeline } from "./largeFiles.ts"
import { formatDiagnostic, loadPipeline, sortDiagnostics, SpecError } from "../src/index.ts"
import type { Diagnostic } from "../src/index.ts"

/*
 * Every malformed pipeline file gets a precise answer: a SpecError (never a defect, never
 * a success) whose first diagnostic names the file, the line and column, and says what is
 * wrong in the project's words, without the text of a library underneath.
 */

const root = join(import.meta.dirname, "malformed")

interface Expected {
  /** The file the first diagnostic is in, when not the loaded one (a parent of `extends`). */
  readonly file?: string
  readonly line: number
  readonly col: number
  /** A substring of the first diagnostic's message. */
  readonly message: string
  /** A warning: the file loads, with this as its first warning. */
  readonly severity?: "warning"
}

const expected = JSON.parse(readFileSync(join(root, "expected.json"), "utf8")) as Record<string, Expected>

/** Each top-level file, and the entry file (`main.yaml`, or `a.yaml` of a cycle) of each folder of an extends case. */
const corpus = readdirSync(root).sort().flatMap((entry) => {
  if (entry.endsWith(".yaml")) return [entry]
  if (!statSync(join(root, entry)).isDirectory()) return []
  return [readdirSync(join(root, entry)).includes("main.yaml") ? `${entry}/main.yaml` : `${entry}/a.yaml`]
})

/** Text of a library, an engine or a JavaScript runtime that must never reach a user (nor a secret of the corpus). */
const leaks = [/YAML\./, /parseAllDocuments/, /Maximum call stack/, /Schema/, /\bExpected\b/, /\n\s+at /, /undefined/, /s3cret/]

/** The time bound of the loading test: POLYMATH_DSL_LOAD_BOUND_S overrides it (2 on an unloaded machine). */
const boundSeconds = Number(process.env["POLYMATH_DSL_LOAD_BOUND_S"] ?? "60")

/** Loads as `validate` does: no environment, missing variables are warnings. */
const load = (file: string) =>
  loadPipeline(file, { allowMissingEnv: true, pipelinesDir: join(file, "..") }).pipe(
    Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env: {} })),
    Effect.exit
  )

/** The diagnostics a file fails with; fails the test on a defect or a success. */
const failureOf = (file: string) =>
  Effect.gen(function*() {
    const exit = yield* load(file)
    if (Exit.isSuccess(exit)) return expect.fail(`${file} loaded, but it is malformed`)
    const error = Cause.findErrorOption(exit.cause)
    if (error._tag === "None") return expect.fail(`${file} failed with a defect: ${Cause.pretty(exit.cause)}`)
    expect(error.value).toBeInstanceOf(SpecError)
    return sortDiagnostics(error.value.diagnostics)
  })

const expectNoLeaks = (ds: ReadonlyArray<Diagnostic>) => {
  const text = ds.map(formatDiagnostic).join("\n")
  for (const leak of leaks) expect(text, text).not.toMatch(leak)
}

describe("malformed pipeline files", () => {
  it("the corpus has an expected first diagnostic for each of at least 60 files", () => {
    expect(corpus.length).toBeGreaterThanOrEqual(60)
    expect(corpus.filter((f) => !(f in expected))).toEqual([])
    expect(Object.keys(expected).filter((f) => !corpus.includes(f))).toEqual([])
  })

  for (const name of corpus) {
    const want = expected[name]!
    it.effect(`${name}: ${want.message}`, () =>
      Effect.gen(function*() {
        const file = join(root, name)
        let first: Diagnostic
        if (want.severity === "warning") {
          const exit = yield* load(file)
          if (!Exit.isSuccess(exit)) return expect.fail(`${name} should load with a warning: ${Cause.pretty(exit.cause)}`)
          first = sortDiagnostics(exit.value.warnings)[0]!
          expect(first.severity).toBe("warning")
          expectNoLeaks(exit.value.warnings)
        } else {
          const ds = yield* failureOf(file)
          first = ds[0]!
          expect(first.severity).toBe("error")
          expectNoLeaks(ds)
          // Each problem once, even where two rules of one field fail together.
          expect(new Set(ds.map(formatDiagnostic)).size, ds.map(formatDiagnostic).join("\n")).toBe(ds.length)
        }
        expect(first.position, formatDiagnostic(first)).not.toBeNull()
        expect(first.position!.file.endsWith(want.file ?? name), first.position!.file).toBe(true)
        expect(`${first.position!.line}:${first.position!.col}`, formatDiagnostic(first)).toBe(`${want.line}:${want.col}`)
        expect(first.message).toContain(want.message)
      }))
  }
})

describe("files that are not text a pipeline can be", () => {
  const dir = mkdtempSync(join(tmpdir(), "dsl-malformed-"))
  const write = (name: string, bytes: Buffer | string) => {
    writeFileSync(join(dir, name), bytes)
    return join(dir, name)
  }
  const pipeline = "pipeline: p\nconnections: {}\nsources: {}\nsteps: {}\n"

  const cases: ReadonlyArray<readonly [string, () => string, string, string]> = [
    ["a UTF-16 file (with its BOM)", () => write("utf16.yaml", Buffer.from(`\uFEFF${pipeline}`, "utf16le")), "1:1", "pipeline files must be UTF-8"],
    ["a UTF-16 file without a BOM", () => write("utf16nobom.yaml", Buffer.from(pipeline, "utf16le")), "1:2", "pipeline files must be UTF-8"],
    ["a file with a NUL byte", () => write("nul.yaml", `${pipeline}description: a\u0000b\n`), "5:15", "it holds a NUL byte"],
    ["a file of Latin-1 text", () => write("latin1.yaml", Buffer.concat([Buffer.from("pipeline: p\ndescription: caf"), Buffer.from([0xe9]), Buffer.from("\n")])), "2:17", "not valid UTF-8"],
    ["a file over 256 KiB", () => write("huge.yaml", `${pipeline}${"# padding\n".repeat(27_000)}`), "1:1", "the file is 264 KiB; a pipeline file may be at most 256 KiB"],
    ["a directory named like a pipeline", () => {
      mkdirSync(join(dir, "adir.yaml"), { recursive: true })
      return join(dir, "adir.yaml")
    }, "1:1", "cannot read the file (it is a directory)"]
  ]

  for (const [what, make, at, message] of cases) {
    it.effect(`${what}: ${message}`, () =>
      Effect.gen(function*() {
        const file = make()
        const ds = yield* failureOf(file)
        expect(ds[0]!.position?.file).toContain(file.split("/").pop())
        expect(`${ds[0]!.position!.line}:${ds[0]!.position!.col}`).toBe(at)
        expect(ds[0]!.message).toContain(message)
        expectNoLeaks(ds)
      }))
  }
})

describe("loading time", () => {
  // A 5 MB file of 300,000 params once took over 6 minutes (a check quadratic in a map's
  // size), and the YAML parser alone needs over 3 s for 5 MB on a slow 2-core machine.
  // A file over 256 KiB is refused before it is read, and the densest file accepted loads
  // in about a second there (tools/bench/dsl-load.ts measures both). The bound here is
  // loose so a busy CI machine does not fail it, while a quadratic step would take minutes.
  const dir = mkdtempSync(join(tmpdir(), "dsl-big-"))
  const timed = (file: string) =>
    Effect.gen(function*() {
      const started = performance.now()
      const exit = yield* load(file)
      return { exit, seconds: (performance.now() - started) / 1000 }
    })

  it.effect("a 5 MB file with 300,000 params is refused before it is parsed", () =>
    Effect.gen(function*() {
      const text = manyParamsPipeline("big", 300_000)
      expect(text.length).toBeGreaterThan(5_000_000)
      writeFileSync(join(dir, "big.yaml"), text)
      const { seconds } = yield* timed(join(dir, "big.yaml"))
      expect(seconds).toBeLessThan(boundSeconds)
      const ds = yield* failureOf(join(dir, "big.yaml"))
      expect(formatDiagnostic(ds[0]!)).toMatch(/big\.yaml:1:1: .*the file is \d\.\d MiB; a pipeline file may be at most 256 KiB/)
    }), 120_000)

  it.effect("a file under 256 KiB with 15,000 params is told where the 1001st is", () =>
    Effect.gen(function*() {
      writeFileSync(join(dir, "many.yaml"), manyParamsPipeline("many", 15_000))
      const { seconds } = yield* timed(join(dir, "many.yaml"))
      expect(seconds).toBeLessThan(boundSeconds)
      const ds = yield* failureOf(join(dir, "many.yaml"))
      expect(ds[0]!.position?.line).toBe(1003)
      expect(ds[0]!.message).toBe("a pipeline declares at most 1000 params; this file declares 15001")
    }), 120_000)

  it.effect("the densest file accepted (256 KiB: a node mapping of 33,000 properties) loads", () =>
    Effect.gen(function*() {
      const text = densestPipeline()
      expect(text.length).toBeGreaterThan(240 * 1024)
      expect(text.length).toBeLessThanOrEqual(256 * 1024)
      writeFileSync(join(dir, "densest.yaml"), text)
      const { exit, seconds } = yield* timed(join(dir, "densest.yaml"))
      expect(Exit.isSuccess(exit), Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "").toBe(true)
      expect(seconds).toBeLessThan(boundSeconds)
    }), 120_000)
})
