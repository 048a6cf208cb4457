import type { CheckResult, Plan, RunReport, UnitReport } from "@polymath/engine"

const pad = (s: string, n: number) => (s.length >= n ? s : s + " ".repeat(n - s.length))
const lpad = (s: string, n: number) => (s.length >= n ? s : " ".repeat(n - s.length) + s)

const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>, rightAligned: ReadonlySet<number>): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (r: ReadonlyArray<string>) => r.map((c, i) => (rightAligned.has(i) ? lpad(c, widths[i]!) : pad(c, widths[i]!))).join("  ").trimEnd()
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n")
}

/** What a unit writes, in the seed's words: "740 Paper nodes", "5954 MENTIONS relationships". */
const unitWhat = (plan: Plan, u: UnitReport): string => {
  for (const step of plan.steps) {
    if (step.kind === "embed" && step.unit.unit === u.unit) return `passages to embed with ${step.unit.model} into ${step.unit.target.table}.${step.unit.target.vector}`
    if (step.kind === "graph") {
      const g = step.units.find((x) => x.unit === u.unit)
      if (g) return g.kind === "nodes" ? `${g.write.label} nodes` : `${g.write.type} relationships`
    }
  }
  return u.unit
}

/** The dry-run plan: what each step would read and write. */
export const renderPlan = (plan: Plan, report: RunReport, file: string): string => {
  const lines = [`[DRY RUN] ${plan.pipeline} (${file}) would sync, writing nothing now:`]
  let step = ""
  for (const u of report.units) {
    if (u.step !== step) {
      step = u.step
      lines.push(`  ${step}:`)
    }
    lines.push(`    - ${u.total ?? "?"} ${unitWhat(plan, u)}  (source ${u.source})`)
  }
  const params = Object.entries(plan.params).map(([k, v]) => `${k}=${String(v)}`).join(", ")
  if (params) lines.push(`  params: ${params}`)
  return lines.join("\n")
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`

/** The per-step summary table of a run. */
export const renderSummary = (plan: Plan, report: RunReport): string => {
  const rows = report.units.map((u) => [
    u.unit,
    unitWhat(plan, u),
    String(u.read),
    String(u.written),
    String(u.skipped),
    String(u.retried),
    u.fromCheckpoint ? "(done before)" : seconds(u.millis),
    u.fromCheckpoint || u.millis === 0 ? "-" : String(Math.round((u.read * 1000) / u.millis))
  ])
  const head = `${plan.pipeline}: run ${report.runId ?? "-"}${report.resumed ? " (resumed)" : ""} finished in ${seconds(report.millis)}`
  return `${head}\n${table(["unit", "what", "read", "written", "skipped", "retried", "time", "rows/s"], rows, new Set([2, 3, 4, 5, 6, 7]))}`
}

const cell = (v: unknown): string => {
  const s = v === null || v === undefined ? "null" : typeof v === "object" ? JSON.stringify(v) : String(v)
  return s.length > 60 ? `${s.slice(0, 57)}...` : s
}

/** Verification results, one line per check with what it saw. */
export const renderChecks = (results: ReadonlyArray<CheckResult>): string => {
  const lines = ["verification:"]
  for (const r of results) {
    const mark = r.ok ? "PASS" : "FAIL"
    const got = r.error ? `error: ${r.error}` : `got ${r.actual ?? "no value"}, expected ${r.expected}`
    lines.push(`  ${mark}  ${r.name}: ${got}`)
    for (const row of r.sample.length > 1 || (r.sample[0] && Object.keys(r.sample[0]).length > 1) ? r.sample : []) {
      lines.push(`          ${Object.entries(row).map(([k, v]) => `${k}=${cell(v)}`).join(" | ")}`)
    }
  }
  const failed = results.filter((r) => !r.ok).length
  lines.push(failed === 0 ? `  all ${results.length} checks passed` : `  ${failed} of ${results.length} checks failed`)
  return lines.join("\n")
}
