import { formatKey, unitsOf } from "@polymath/engine"
import type { CheckResult, Plan, RejectedRow, RunReport, UnitForecast } from "@polymath/engine"

const pad = (s: string, n: number) => (s.length >= n ? s : s + " ".repeat(n - s.length))
const lpad = (s: string, n: number) => (s.length >= n ? s : " ".repeat(n - s.length) + s)

export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>, rightAligned: ReadonlySet<number>): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (r: ReadonlyArray<string>) => r.map((c, i) => (rightAligned.has(i) ? lpad(c, widths[i]!) : pad(c, widths[i]!))).join("  ").trimEnd()
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n")
}

/** The plan's units by name: the plan says what each writes and how its rows are keyed. */
const unitIndex = (plan: Plan) => new Map(unitsOf(plan).map((u) => [u.unit, u]))

/** What a dry run found beyond the row count, in a few words. */
const forecastNotes = (f: UnitForecast | undefined): ReadonlyArray<string> => {
  if (f === undefined) return []
  const out: Array<string> = []
  if (f.embed !== null) out.push(`${f.embed.new} new, ${f.embed.stale} changed, ${f.embed.fresh} up to date${f.embed.missing > 0 ? `, ${f.embed.missing} without a target row` : ""}${f.embed.invalid > 0 ? `, ${f.embed.invalid} with no text to embed` : ""}`)
  if (f.combined > 0) out.push(`${f.combined} more source rows combined into these`)
  if (f.cursorFrom !== null) out.push(`incremental: rows with cursor >= ${f.cursorFrom}`)
  if (f.index !== null) out.push(f.index)
  return out
}

/** The dry-run plan: what each step would read and write, and what would stop or skip rows. */
export const renderPlan = (plan: Plan, report: RunReport, file: string): string => {
  const lines = [`[DRY RUN] ${plan.pipeline} (${file}) would sync, writing nothing now:`]
  const units = unitIndex(plan)
  let step = ""
  for (const u of report.units) {
    if (u.step !== step) {
      step = u.step
      lines.push(`  ${step}:`)
    }
    const f = report.forecasts.find((x) => x.unit === u.unit)
    const extra = forecastNotes(f)
    lines.push(`    - ${u.total ?? "?"} ${units.get(u.unit)?.what ?? u.unit}  (source ${u.source})${extra.length > 0 ? `: ${extra.join("; ")}` : ""}`)
    if (f !== undefined && f.nullKeys > 0) lines.push(`      ! ${f.nullKeys} rows have a NULL key and cannot be written (rejected under on_error: skip, else the run fails)`)
    if (f !== undefined && f.duplicateKeys.length > 0) lines.push(`      ! the key of source ${u.source} is not unique, e.g. ${f.duplicateKeys.join(", ")}: the run would fail reading it`)
  }
  const params = Object.entries(plan.params).map(([k, v]) => `${k}=${String(v)}`).join(", ")
  if (params) lines.push(`  params: ${params}`)
  return lines.join("\n")
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`

/** A rejected row's key as error messages show keys: `passage_id="…", concept_name="…"`. */
const describeRejectedKey = (units: ReturnType<typeof unitIndex>, r: RejectedRow): string => {
  const unit = units.get(r.unit)
  const columns = unit?.source.keyset.key
  return columns === undefined || columns.length !== r.key.length ? formatKey(r.key) : columns.map((c, i) => `${c}=${JSON.stringify(r.key[i])}`).join(", ")
}

/**
 * The per-unit summary of a run: every row read is created, updated, unchanged,
 * rejected or combined into another; deleted is what mirroring removed.
 */
export const renderSummary = (plan: Plan, report: RunReport): string => {
  const units = unitIndex(plan)
  const rows = report.units.map((u) => [
    u.unit,
    units.get(u.unit)?.what ?? u.unit,
    String(u.read),
    String(u.created),
    String(u.updated),
    String(u.unchanged),
    String(u.deleted),
    String(u.rejected),
    String(u.combined),
    String(u.retried),
    u.status === "done" ? seconds(u.millis) : `(${u.status})`
  ])
  const head = `${plan.pipeline}: run ${report.runId ?? "-"}${report.resumed ? " (resumed)" : ""} finished in ${seconds(report.millis)}`
  const lines = [head, table(["unit", "what", "read", "created", "updated", "unchanged", "deleted", "rejected", "combined", "retried", "time"], rows, new Set([2, 3, 4, 5, 6, 7, 8, 9, 10]))]
  for (const note of report.notes) lines.push(`note: ${note}`)
  if (report.rejected.count > 0) {
    lines.push(`rejected rows: ${report.rejected.count}${report.rejected.count > report.rejected.rows.length ? ` (the first ${report.rejected.rows.length})` : ""}`)
    for (const r of report.rejected.rows) lines.push(`  - ${r.unit} (${describeRejectedKey(units, r)}): ${r.reason}`)
    lines.push(`  all of them: SELECT * FROM polymath_etl.rejected_rows WHERE run_id = '${report.runId}'`)
  }
  return lines.join("\n")
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
    for (const d of r.details ?? []) lines.push(`          ${d}`)
  }
  const failed = results.filter((r) => !r.ok).length
  lines.push(failed === 0 ? `  all ${results.length} checks passed` : `  ${failed} of ${results.length} checks failed`)
  return lines.join("\n")
}
