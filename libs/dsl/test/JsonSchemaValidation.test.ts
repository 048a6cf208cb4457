import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { Ajv2020 } from "ajv/dist/2020.js"
import type { ErrorObject } from "ajv/dist/2020.js"
import { Effect } from "effect"
import { parse } from "yaml"
import { formatDiagnostic, loadPipeline, SpecError } from "../src/index.ts"

/*
 * The committed schema, checked with a standard validator, agrees with the loader: it
 * accepts every shipped pipeline and rejects each file of schema-invalid/, which the
 * loader rejects too. Each invalid file says where the schema must object (`# schema:`,
 * an instance path) and what the loader must say (`# loader:`, a pattern), so a file
 * rejected for another reason fails the test.
 */

const root = fileURLToPath(new URL("../../../", import.meta.url))
const schema = JSON.parse(readFileSync(join(root, "pipelines/pipeline.schema.json"), "utf8"))
const validate = new Ajv2020({ allErrors: true }).compile(schema)

/** Pipeline files of a directory; `<name>.test.yaml` holds a pipeline's test cases, not a pipeline. */
const yamlIn = (dir: string): Array<string> =>
  readdirSync(join(root, dir)).filter((f) => f.endsWith(".yaml") && !f.endsWith(".test.yaml")).sort().map((f) => join(root, dir, f))

const schemaErrors = (file: string): ReadonlyArray<ErrorObject> => {
  validate(parse(readFileSync(file, "utf8")))
  return validate.errors ?? []
}

/** The loader's diagnostics without an environment or model registry (as `validate` offline): empty when it loads. */
const loaderErrors = (file: string) =>
  Effect.gen(function*() {
    const r = yield* Effect.result(loadPipeline(file, { env: {}, allowMissingEnv: true }))
    if (r._tag === "Success") return []
    expect(r.failure).toBeInstanceOf(SpecError)
    return r.failure.diagnostics.filter((d) => d.severity === "error").map(formatDiagnostic)
  })

const header = (file: string, key: string): string => {
  const m = new RegExp(`^# ${key}: (.*)$`, "m").exec(readFileSync(file, "utf8"))
  if (!m) throw new Error(`${file} has no '# ${key}:' line`)
  return m[1]!
}

describe("pipeline.schema.json", () => {
  const shipped = [...yamlIn("pipelines"), ...yamlIn("pipelines/examples")]

  it("finds the shipped pipelines", () => {
    expect(shipped.map((f) => f.slice(root.length))).toEqual(expect.arrayContaining(["pipelines/batch-v1.yaml", "pipelines/batch-v2.yaml", "pipelines/examples/movies.yaml"]))
  })

  for (const file of shipped) {
    it.effect(`accepts ${file.slice(root.length)}, as the loader does`, () =>
      Effect.gen(function*() {
        expect(schemaErrors(file)).toEqual([])
        expect(yield* loaderErrors(file)).toEqual([])
      }))
  }

  const invalid = yamlIn("libs/dsl/test/schema-invalid")

  it("has at least 10 invalid files", () => {
    expect(invalid.length).toBeGreaterThanOrEqual(10)
  })

  for (const file of invalid) {
    it.effect(`rejects schema-invalid/${file.split("/").pop()}, as the loader does`, () =>
      Effect.gen(function*() {
        const errors = schemaErrors(file)
        const at = header(file, "schema")
        expect(errors.map((e) => e.instancePath || "/"), `schema errors: ${JSON.stringify(errors)}`).toContain(at)
        const loader = yield* loaderErrors(file)
        expect(loader.join("\n")).toMatch(new RegExp(header(file, "loader")))
      }))
  }

  const dir = mkdtempSync(join(tmpdir(), "dsl-schema-"))
  const write = (name: string, text: string) => {
    const file = join(dir, `${name}.yaml`)
    writeFileSync(file, text)
    return file
  }
  write("parent", readFileSync(join(root, "libs/dsl/test/schema-invalid/unknown-key.yaml"), "utf8").replace("schedule: daily\n", "").replace("pipeline: unknown-key", "pipeline: parent"))

  it.effect("accepts a child that extends a parent and overrides an entry, as the loader does", () =>
    Effect.gen(function*() {
      const child = write("child", `pipeline: child
extends: parent
sources:
  documents: { connection: pg, key: doc_id, sql: "SELECT doc_id, title FROM documents WHERE year > 2000" }
`)
      expect(schemaErrors(join(dir, "parent.yaml"))).toEqual([])
      expect(schemaErrors(child)).toEqual([])
      expect(yield* loaderErrors(child)).toEqual([])
    }))

  it.effect("rejects a bad entry in a child, as the loader does", () =>
    Effect.gen(function*() {
      const child = write("bad-child", `pipeline: bad-child
extends: parent
sources:
  documents: { connection: pg, key: doc-id, sql: "SELECT doc_id, title FROM documents" }
`)
      expect(schemaErrors(child).map((e) => e.instancePath)).toContain("/sources/documents/key")
      expect((yield* loaderErrors(child)).join("\n")).toMatch(/key must be/)
    }))

  it.effect("accepts a number or a choice written as one ${params.x}, as the loader does", () =>
    Effect.gen(function*() {
      const file = write("interpolated", readFileSync(join(dir, "parent.yaml"), "utf8")
        .replace("pipeline: parent", "pipeline: interpolated")
        .replace("params:\n", "params:\n  size: 64\n  mirror: delete\n")
        .replace("batch_size: 32", "batch_size: ${params.size}")
        .replace("on_missing: keep", "on_missing: \"${params.mirror}\""))
      expect(schemaErrors(file)).toEqual([])
      expect(yield* loaderErrors(file)).toEqual([])
    }))
})
