/**
 * One unit's progress as this process sees it, and how it reads as text. Rows done
 * before a resume are an estimate (the source may have changed since), so what is shown
 * is clamped to the source's current total, and rate and ETA count only rows done here.
 */
export interface UnitProgress {
  readonly unit: string
  /** Rows the source holds now; null when unknown. */
  readonly total: number | null
  /** Rows done before this process (a resumed run's estimate). */
  readonly before: number
  /** Rows done by this process. */
  here: number
  /** When this process started the unit (Clock millis). */
  readonly started: number
  /** When a plain line about it was last written. */
  lastLine: number
}

export const startUnit = (unit: string, total: number | null, alreadyDone: number, now: number): UnitProgress => {
  const before = Math.max(0, alreadyDone)
  return { unit, total, before: total === null ? before : Math.min(before, total), here: 0, started: now, lastLine: now }
}

/** Rows done, never past the total. */
export const doneRows = (p: UnitProgress): number => (p.total === null ? p.before + p.here : Math.min(p.total, p.before + p.here))

/** Whole percent, floored (100% only when every row is done); null without a total. */
export const percent = (p: UnitProgress): number | null =>
  p.total === null ? null : p.total === 0 ? 100 : Math.floor((100 * doneRows(p)) / p.total)

/** Rows per second done by this process. */
export const rowsPerSecond = (p: UnitProgress, now: number): number => {
  const ms = now - p.started
  return ms > 0 ? (p.here * 1000) / ms : 0
}

/** Seconds left at this process's rate; null without a total or before the first rows. */
export const etaSeconds = (p: UnitProgress, now: number): number | null => {
  if (p.total === null) return null
  const left = p.total - doneRows(p)
  if (left <= 0) return 0
  const rate = rowsPerSecond(p, now)
  return rate > 0 ? Math.ceil(left / rate) : null
}

/** A duration people read at a glance: 7s, 1m05s, 2h03m. */
export const formatDuration = (seconds: number): string => {
  const s = Math.max(0, Math.round(seconds))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`
}

// Slow units (embedding on a CPU) run at a few rows a second, where a rounded integer says too little.
const formatRate = (rate: number): string => (rate < 10 ? rate.toFixed(1) : String(Math.round(rate)))

const rowsText = (p: UnitProgress): string => {
  const pct = percent(p)
  return p.total === null ? `${doneRows(p)} rows` : `${doneRows(p)}/${p.total} rows (${pct}%)`
}

/** The line about a running unit: rows, percent, rate, time so far and ETA. */
export const describeRunning = (p: UnitProgress, now: number): string => {
  const eta = etaSeconds(p, now)
  const etaText = p.total === null ? "" : `, ETA ${eta === null ? "?" : formatDuration(eta)}`
  return `${p.unit}: ${rowsText(p)}, ${formatRate(rowsPerSecond(p, now))} rows/s, ${formatDuration((now - p.started) / 1000)}${etaText}`
}

/** The line about a unit starting, with what a resumed run did before. */
export const describeStart = (p: UnitProgress): string =>
  `${p.unit}: starting, ${p.total ?? "?"} rows${p.before > 0 ? ` (${p.before} done before)` : ""}`

/** The last line about a unit: how far it got, how fast, how long, and how it ended. */
export const describeEnd = (p: UnitProgress, now: number, ending: string): string =>
  `${p.unit}: ${rowsText(p)}, ${formatRate(rowsPerSecond(p, now))} rows/s, ${formatDuration((now - p.started) / 1000)}, ${ending}`

/** A bar `[#####-----]` of `width` cells; empty cells when the total is unknown. */
export const bar = (p: UnitProgress, width: number): string => {
  const pct = percent(p)
  const filled = pct === null ? 0 : Math.round((pct / 100) * width)
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}]`
}
