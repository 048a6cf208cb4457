import { accessSync, constants, existsSync, statSync, writeFileSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { redact } from "@polymath/engine"
import type { CheckResult, RejectedRow, UnitReport } from "@polymath/engine"

/** How a run ended, as the report says it. */
export type RunOutcome = "succeeded" | "completed with rejected rows" | "verification failed" | "failed" | "interrupted"

/** Everything a run report holds; written as JSON, or as Markdown for a `.md` name. */
export interface RunDocument {
  readonly pipeline: string | null
  readonly file: string | null
  readonly command: string
  readonly params: Readonly<Record<string, unknown>>
  readonly models: ReadonlyArray<string>
  readonly runId: string | null
  readonly resumed: boolean
  readonly startedAt: string
  readonly endedAt: string
  readonly status: RunOutcome
  readonly exitCode: number
  /** The failure's message when the run failed (secret-free, as the CLI printed it). */
  readonly error: string | null
  readonly units: ReadonlyArray<UnitReport>
  /** Retries of transient failures over the whole run, by reason. */
  readonly retries: Readonly<Record<string, number>>
  readonly rejected: { readonly count: number; readonly rows: ReadonlyArray<RejectedRow> }
  /** Null when the verify block did not run. */
  readonly checks: ReadonlyArray<CheckResult> | null
  readonly notes: ReadonlyArray<string>
}

// Param names that usually hold credentials; their values never reach a report.
const secretName = /pass(word)?|secret|token|credential|dsn|api_?key|private/i

/** Params as a report shows them: values of secret-looking names hidden, URL passwords removed from the rest. */
export const redactParams = (params: Readonly<Record<string, unknown>>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(params).map(([k, v]) => [k, secretName.test(k) ? "***" : typeof v === "string" ? redact(v) : v]))

/** Retries summed over units, by reason. */
export const retryTotals = (units: ReadonlyArray<UnitReport>): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const u of units) for (const [reason, n] of Object.entries(u.retryReasons ?? {})) out[reason] = (out[reason] ?? 0) + n
  return out
}

/**
 * Fails (with a message for the user) unless a report can be written at `path`: the
 * directory exists and is writable, and the path is not a directory or a read-only
 * file. Checked before anything connects, so a typo costs nothing.
 */
export const reportPathProblem = (path: string): string | null => {
  const full = resolve(path)
  const dir = dirname(full)
  if (!existsSync(dir)) return `the directory ${dir} does not exist`
  try {
    if (existsSync(full)) {
      if (statSync(full).isDirectory()) return `${path} is a directory`
      accessSync(full, constants.W_OK)
    } else accessSync(dir, constants.W_OK)
  } catch {
    return `${existsSync(full) ? path : dir} is not writable`
  }
  return null
}

const cell = (s: string) => s.replaceAll("|", "\\|").replaceAll("\n", " ")

/** The report as Markdown: a header, the units' counts, the checks, the rejected rows. */
export const markdownReport = (d: RunDocument): string => {
  const lines = [
    `# ${d.pipeline ?? "pipeline"}: ${d.status}`,
    "",
    `- file: ${d.file ?? "-"}`,
    `- command: ${d.command}`,
    `- run: ${d.runId ?? "-"}${d.resumed ? " (resumed)" : ""}`,
    `- started: ${d.startedAt}, ended: ${d.endedAt}`,
    `- exit code: ${d.exitCode}`,
    `- params: ${Object.entries(d.params).map(([k, v]) => `${k}=${String(v)}`).join(", ") || "-"}`,
    `- models: ${d.models.join(", ") || "-"}`,
    `- retries: ${Object.entries(d.retries).map(([k, n]) => `${k} ${n}`).join(", ") || "none"}`
  ]
  if (d.error !== null) lines.push("", "## Error", "", "```", d.error, "```")
  if (d.units.length > 0) {
    lines.push("", "## Units", "", "| unit | status | read | created | updated | unchanged | deleted | rejected | combined | retried |", "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    for (const u of d.units) lines.push(`| ${cell(u.unit)} | ${u.status} | ${u.read} | ${u.created} | ${u.updated} | ${u.unchanged} | ${u.deleted} | ${u.rejected} | ${u.combined} | ${u.retried} |`)
  }
  if (d.checks !== null) {
    lines.push("", "## Checks", "")
    for (const c of d.checks) {
      lines.push(`- ${c.ok ? "PASS" : "FAIL"} ${cell(c.name)}: ${c.error ? `error: ${cell(c.error)}` : `got ${c.actual ?? "no value"}, expected ${c.expected}`}`)
      for (const detail of c.details ?? []) lines.push(`  - ${cell(detail.trim())}`)
    }
  }
  if (d.rejected.count > 0) {
    lines.push("", `## Rejected rows (${d.rejected.count})`, "")
    for (const r of d.rejected.rows) lines.push(`- ${cell(r.unit)} ${JSON.stringify(r.key)}: ${cell(r.reason)}`)
  }
  if (d.notes.length > 0) lines.push("", "## Notes", "", ...d.notes.map((n) => `- ${cell(n)}`))
  return `${lines.join("\n")}\n`
}

/** Writes the report synchronously, so it lands even while the process is being interrupted. */
export const writeRunReport = (path: string, d: RunDocument): void =>
  writeFileSync(path, path.toLowerCase().endsWith(".md") ? markdownReport(d) : `${JSON.stringify(d, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2)}\n`)
