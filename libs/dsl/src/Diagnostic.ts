import { Data } from "effect"

/** A position in a pipeline file, 1-based. */
export interface Position {
  readonly file: string
  readonly line: number
  readonly col: number
}

/** One problem found in a pipeline file. */
export interface Diagnostic {
  readonly position: Position | null
  readonly message: string
  readonly hint: string | null
  readonly severity: "error" | "warning"
}

/** Builds an error diagnostic. */
export const error = (position: Position | null, message: string, hint: string | null = null): Diagnostic => ({
  position,
  message,
  hint,
  severity: "error"
})

/** Builds a warning diagnostic. */
export const warning = (position: Position | null, message: string, hint: string | null = null): Diagnostic => ({
  position,
  message,
  hint,
  severity: "warning"
})

/** Renders `file:line:col: message (hint)`, the format editors and terminals link to. */
export const formatDiagnostic = (d: Diagnostic): string => {
  const where = d.position ? `${d.position.file}:${d.position.line}:${d.position.col}: ` : ""
  const level = d.severity === "warning" ? "warning: " : ""
  return `${where}${level}${d.message}${d.hint ? `\n    hint: ${d.hint}` : ""}`
}

/** Diagnostics sorted by file, line and column so output reads top to bottom. */
export const sortDiagnostics = (ds: ReadonlyArray<Diagnostic>): Array<Diagnostic> =>
  [...ds].sort((a, b) => {
    const pa = a.position
    const pb = b.position
    if (!pa || !pb) return pa ? -1 : pb ? 1 : 0
    return (pa.file === pb.file ? 0 : pa.file.localeCompare(pb.file)) || pa.line - pb.line || pa.col - pb.col
  })

/** A pipeline that cannot be used: every problem found, not just the first. */
export class SpecError extends Data.TaggedError("SpecError")<{
  readonly diagnostics: ReadonlyArray<Diagnostic>
}> {
  override get message(): string {
    return sortDiagnostics(this.diagnostics).map(formatDiagnostic).join("\n")
  }
}

/** Closest candidate by edit distance, for did-you-mean hints; null when nothing is close. */
export const didYouMean = (input: string, candidates: Iterable<string>): string | null => {
  let best: string | null = null
  let bestDistance = Infinity
  for (const c of candidates) {
    const d = levenshtein(input.toLowerCase(), c.toLowerCase())
    if (d < bestDistance) {
      bestDistance = d
      best = c
    }
  }
  return best !== null && bestDistance <= Math.max(2, Math.floor(input.length / 3)) ? best : null
}

const levenshtein = (a: string, b: string): number => {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = tmp
    }
  }
  return row[b.length]!
}

/** A "did you mean" hint, or a list of valid names when nothing is close. */
export const suggest = (input: string, candidates: ReadonlyArray<string>, what: string): string | null => {
  const close = didYouMean(input, candidates)
  if (close) return `did you mean '${close}'?`
  if (candidates.length === 0) return `no ${what} is defined`
  return `defined ${what}: ${candidates.join(", ")}`
}
