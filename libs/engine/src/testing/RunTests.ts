import { dirname, resolve } from "node:path"
import { Effect } from "effect"
import { loadPipeline, positionOf, SpecError } from "@polymath/dsl"
import type { Diagnostic, EnvValues } from "@polymath/dsl"
import { compile } from "../Plan.ts"
import type { Row } from "../Rows.ts"
import { compareCase } from "./Compare.ts"
import type { TestFailure } from "./Compare.ts"
import type { TestCaseResult, TestReport } from "./Report.ts"
import { simulate } from "./Simulate.ts"
import { checkReferences, readTestFile } from "./TestFile.ts"

export interface PipelineTestOptions {
  /** `name=value` param overrides after the test file's `params`, as from `--set`. */
  readonly set?: ReadonlyArray<string>
  /**
   * The environment `${env.*}` reads. Default: none, so that a test never depends on the
   * machine it runs on (connections are not opened; missing variables are not errors).
   */
  readonly env?: EnvValues
}

/** A test file's name for a pipeline file: `pipelines/batch-v1.yaml` -> `pipelines/batch-v1.test.yaml`. */
export const testFileFor = (pipelineFile: string): string => pipelineFile.replace(/\.ya?ml$/, "") + ".test.yaml"

// Failures read top to bottom, like the file.
const byPosition = (a: TestFailure, b: TestFailure): number =>
  (a.position?.line ?? Infinity) - (b.position?.line ?? Infinity) || (a.position?.col ?? 0) - (b.position?.col ?? 0)

const scalarText = (v: string | number | boolean | null): string => (v === null ? "" : String(v))

/**
 * Runs a pipeline's test cases without a database, a model or a network: loads the test
 * file and the pipeline it names, compiles the plan, and for each case runs every unit
 * over the case's rows (a source not given yields none) and compares what the mappings
 * make with the case's `expect`. A malformed test file or pipeline fails with the DSL's
 * `SpecError` (every problem at its file:line:col); failing cases are in the report.
 */
export const runPipelineTests = (testFile: string, options: PipelineTestOptions = {}): Effect.Effect<TestReport, SpecError> =>
  Effect.gen(function*() {
    const read = readTestFile(resolve(testFile))
    if (read.testFile === null) return yield* new SpecError({ diagnostics: read.diagnostics })
    const t = read.testFile
    // Problems without a place of their own (a missing pipeline file, a bad override) point at the test file's line that caused them.
    const located = (d: Diagnostic): Diagnostic =>
      d.position !== null ? d : { ...d, position: positionOf(t.doc, d.message.startsWith("--set") && t.spec.params ? ["params"] : ["pipeline"]) }
    const set = [...Object.entries(t.spec.params ?? {}).map(([k, v]) => `${k}=${scalarText(v)}`), ...(options.set ?? [])]
    const loaded = yield* loadPipeline(resolve(dirname(resolve(testFile)), t.spec.pipeline), { set, env: options.env ?? {}, allowMissingEnv: true }).pipe(
      Effect.mapError((e) => new SpecError({ diagnostics: e.diagnostics.map(located) }))
    )
    const plan = compile(loaded, { force: false })
    const problems = checkReferences(t, loaded.spec, plan)
    if (problems.length > 0) return yield* new SpecError({ diagnostics: problems })
    const cases = t.spec.tests.map((c, index): TestCaseResult => {
      const sources = new Map(Object.entries(c.sources ?? {}).map(([name, rows]) => [name, rows as ReadonlyArray<Row>]))
      const failures = [...compareCase(t, index, simulate(plan, sources))].sort(byPosition)
      return { name: c.name, index, position: positionOf(t.doc, ["tests", index]), passed: failures.length === 0, failures }
    })
    const passed = cases.filter((c) => c.passed).length
    return { file: t.file, pipeline: loaded.file, cases, passed, failed: cases.length - passed }
  })
