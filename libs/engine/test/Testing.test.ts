import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { SpecError } from "@polymath/dsl"
import { formatTestReport, runPipelineTests, testFileFor } from "../src/index.ts"

const fixture = (name: string) => join("libs/engine/test/testing-fixtures", name)

/** A copy of a pipeline and its test file in a scratch directory, the pipeline edited by `edit`. */
const mutated = (pipeline: string, edit: (text: string) => string): string => {
  const dir = mkdtempSync(join(tmpdir(), "polymath-test-"))
  const name = pipeline.split("/").pop()!
  const original = readFileSync(pipeline, "utf8")
  const changed = edit(original)
  if (changed === original) throw new Error("the edit changed nothing")
  writeFileSync(join(dir, name), changed)
  copyFileSync(testFileFor(pipeline), testFileFor(join(dir, name)))
  return testFileFor(join(dir, name))
}

const specError = (file: string) =>
  runPipelineTests(file).pipe(
    Effect.flip,
    Effect.map((e) => {
      expect(e).toBeInstanceOf(SpecError)
      return e
    })
  )

describe("runPipelineTests", () => {
  it.effect("the shipped test files pass", () =>
    Effect.gen(function*() {
      for (const pipeline of ["pipelines/batch-v1.yaml", "pipelines/examples/movies.yaml"]) {
        const report = yield* runPipelineTests(testFileFor(pipeline))
        expect(report.failed, formatTestReport(report)).toBe(0)
        expect(report.cases.length).toBeGreaterThan(0)
        expect(report.pipeline).toBe(pipeline)
      }
      const batch = yield* runPipelineTests("pipelines/batch-v1.test.yaml")
      expect(batch.cases.length).toBeGreaterThanOrEqual(2)
      expect(formatTestReport(batch)).toMatch(/PASS a passage mentioning two concepts/)
      expect(formatTestReport(batch)).toMatch(/2 tests: 2 passed, 0 failed$/)
    }))

  it.effect("a wrong expectation fails, naming the case, the entity and where the expectation is", () =>
    Effect.gen(function*() {
      const report = yield* runPipelineTests(fixture("wrong.test.yaml"))
      expect(report.passed).toBe(1)
      expect(report.failed).toBe(1)
      const failed = report.cases[1]!
      expect(failed.name).toBe("wrong confidence, a missing concept and an unexpected one")
      expect(failed.passed).toBe(false)
      const at = (kind: string) => {
        const f = failed.failures.find((x) => x.kind === kind)!
        return { ...f, where: `${f.position?.file}:${f.position?.line}:${f.position?.col}` }
      }
      const different = at("different")
      expect(different.entity).toBe("relationship")
      expect(different.differences).toEqual([{ property: "confidence", expected: 0.8, actual: 0.9 }])
      expect(different.where).toBe(`${fixture("wrong.test.yaml")}:27:13`)
      const missing = at("missing")
      expect(missing.message).toBe(`missing Concept node {name: "beam search", type: "method"}`)
      expect(missing.where).toBe(`${fixture("wrong.test.yaml")}:24:13`)
      const unexpected = at("unexpected")
      expect(unexpected.message).toContain(`unexpected Concept node {name: "dropout", type: "method"}`)
      expect(unexpected.where).toBe(`${fixture("wrong.test.yaml")}:22:9`)
      expect(failed.failures).toHaveLength(3)
      const text = formatTestReport(report)
      expect(text).toContain("  PASS right\n  FAIL wrong confidence, a missing concept and an unexpected one\n")
      expect(text).toContain(`    ${fixture("wrong.test.yaml")}:27:13: (:Passage {passage_id: "p1"})-[:MENTIONS {extractor_version: "batch-v1"}]->(:Concept {name: "attention", type: "method"}) differs: confidence: expected 0.8, got 0.9`)
      expect(text).toMatch(/2 tests: 1 passed, 1 failed$/)
    }))

  it.effect("a malformed test file is a SpecError with positions", () =>
    Effect.gen(function*() {
      const e = yield* specError(fixture("malformed.test.yaml"))
      const file = fixture("malformed.test.yaml")
      expect(e.message).toContain(`${file}:5:17: tests[0].sources.concepts must be a list, got a map`)
      expect(e.message).toContain(`${file}:6:5: unknown key 'expected' in tests[0]`)
      expect(e.message).toContain(`${file}:3:5: tests[0] is missing required key 'expect'`)
    }))

  it.effect("names the pipeline does not have are a SpecError with a did-you-mean", () =>
    Effect.gen(function*() {
      const e = yield* specError(fixture("unknown-names.test.yaml"))
      const file = fixture("unknown-names.test.yaml")
      expect(e.message).toContain(`${file}:5:7: the pipeline has no source 'paper'\n    hint: did you mean 'papers'?`)
      expect(e.message).toContain(`${file}:8:9: the pipeline writes no relationship of type 'MENTION'\n    hint: did you mean 'MENTIONS'?`)
      expect(e.message).toContain(`${file}:10:9: the pipeline has no embed step 'embed_passage'\n    hint: did you mean 'embed_passages'?`)
    }))

  it.effect("a missing pipeline file points at the test file's pipeline line", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "polymath-test-"))
      writeFileSync(join(dir, "x.test.yaml"), "pipeline: nowhere.yaml\ntests:\n  - { name: a, expect: {} }\n")
      const e = yield* specError(join(dir, "x.test.yaml"))
      expect(e.diagnostics[0]!.position?.line).toBe(1)
      expect(e.message).toContain("pipeline 'nowhere' not found")
    }))

  it.effect("rows no source could return (a repeated key, a missing column) fail the case at the row", () =>
    Effect.gen(function*() {
      const report = yield* runPipelineTests(fixture("bad-rows.test.yaml"))
      const failures = report.cases[0]!.failures
      const file = fixture("bad-rows.test.yaml")
      expect(failures.map((f) => `${f.position?.file}:${f.position?.line}:${f.position?.col}: ${f.message}`)).toEqual([
        `${file}:7:11: source papers, row 2: key doc_id="d1" repeats row 1: the source's key must identify one row (a run fails on it)`,
        `${file}:9:11: source passages, row 1: row has no column text_preview, which sync_graph/nodes[1]:Passage reads (write text_preview: null for a NULL)`
      ])
    }))

  it.effect("a changed mapping makes a shipped case fail: a dropped property", () =>
    Effect.gen(function*() {
      const file = mutated("pipelines/batch-v1.yaml", (t) => t.replace("properties: [title, year, doi]", "properties: [title, doi]"))
      const report = yield* runPipelineTests(file)
      expect(report.failed).toBe(1)
      const f = report.cases[0]!.failures
      expect(f).toHaveLength(1)
      expect(f[0]!.message).toBe(`Paper node {doc_id: "d1"} differs: year: expected 2017, got (absent)`)
    }))

  it.effect("a changed combine rule makes the folded Person fail", () =>
    Effect.gen(function*() {
      const file = mutated("pipelines/examples/movies.yaml", (t) => t.replace("first_film: min", "first_film: max"))
      const report = yield* runPipelineTests(file)
      expect(report.failed).toBe(1)
      expect(report.cases[0]!.failures.map((f) => f.message)).toEqual([`Person node {person_id: "lohan"} differs: first_film: expected 1998, got 2004`])
    }))

  it.effect("a relationship identity without the extractor version makes MENTIONS fail", () =>
    Effect.gen(function*() {
      const file = mutated("pipelines/batch-v1.yaml", (t) => t.replace("          key: [extractor_version]\n", ""))
      const report = yield* runPipelineTests(file)
      const messages = report.cases[0]!.failures.map((f) => f.message)
      expect(messages).toHaveLength(3)
      expect(messages[0]).toMatch(/^\(:Passage \{passage_id: "p1"\}\)-\[:MENTIONS\]->\(:Concept .*\) differs: extractor_version: expected "batch-v1", got \(absent\)$/)
    }))

  it.effect("folding follows the combine rules and a NULL identity is rejected by each unit that reads it", () =>
    Effect.gen(function*() {
      const report = yield* runPipelineTests(fixture("fold.test.yaml"))
      expect(report.failed, formatTestReport(report)).toBe(0)
    }))
})
