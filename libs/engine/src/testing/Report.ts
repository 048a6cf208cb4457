import type { Position } from "@polymath/dsl"
import type { TestFailure } from "./Compare.ts"

/** One test case and how it went. */
export interface TestCaseResult {
  readonly name: string
  /** Its index in the file's `tests`. */
  readonly index: number
  /** Where the case starts in the test file. */
  readonly position: Position | null
  readonly passed: boolean
  readonly failures: ReadonlyArray<TestFailure>
}

/** What `runPipelineTests` found: every case of one test file. */
export interface TestReport {
  /** The test file, as the user sees it. */
  readonly file: string
  /** The pipeline file it tests, as the user sees it. */
  readonly pipeline: string
  readonly cases: ReadonlyArray<TestCaseResult>
  readonly passed: number
  readonly failed: number
}

const where = (p: Position | null): string => (p === null ? "" : `${p.file}:${p.line}:${p.col}: `)

/** The report as a test runner prints it: PASS / FAIL per case, each failure at its file:line:col, then a summary line. */
export const formatTestReport = (report: TestReport): string => {
  const lines = [`${report.file} (pipeline ${report.pipeline})`]
  for (const c of report.cases) {
    lines.push(`  ${c.passed ? "PASS" : "FAIL"} ${c.name}`)
    for (const f of c.failures) lines.push(`    ${where(f.position)}${f.message}`)
  }
  const total = report.cases.length
  lines.push(`${total} test${total === 1 ? "" : "s"}: ${report.passed} passed, ${report.failed} failed`)
  return lines.join("\n")
}
