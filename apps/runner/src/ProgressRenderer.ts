import { Clock, Effect } from "effect"
import type { ProgressReporter } from "@polymath/engine"

interface UnitProgress {
  total: number | null
  done: number
  started: number
  lastLine: number
}

const rate = (rows: number, ms: number) => (ms > 0 ? Math.round((rows * 1000) / ms) : 0)

const describe = (unit: string, p: UnitProgress, now: number) => {
  const pct = p.total ? ` (${Math.floor((100 * p.done) / Math.max(p.total, 1))}%)` : ""
  return `${unit}: ${p.done}${p.total !== null ? `/${p.total}` : ""} rows${pct}, ${rate(p.done, now - p.started)} rows/s`
}

/**
 * Progress for people on stderr: a live bar rewritten in place on a terminal, plain
 * lines every few seconds otherwise (CI logs, pipes). Notes are log lines.
 */
export const makeProgressRenderer = (stream: NodeJS.WriteStream = process.stderr, intervalMs = 5000): ProgressReporter => {
  const tty = stream.isTTY === true
  const units = new Map<string, UnitProgress>()
  let barShown = false
  const clearBar = () => {
    if (tty && barShown) {
      stream.write("\r\x1b[2K")
      barShown = false
    }
  }
  const drawBar = (unit: string, p: UnitProgress, now: number) => {
    const width = 24
    const frac = p.total ? Math.min(1, p.done / Math.max(p.total, 1)) : 0
    const filled = Math.round(frac * width)
    stream.write(`\r\x1b[2K[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${describe(unit, p, now)}`)
    barShown = true
  }
  return {
    unitStart: (unit, total, alreadyDone) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const p = { total, done: alreadyDone, started: now, lastLine: now }
        units.set(unit, p)
        if (tty) drawBar(unit, p, now)
        else stream.write(`${unit}: starting, ${total ?? "?"} rows${alreadyDone > 0 ? ` (${alreadyDone} done before)` : ""}\n`)
      }),
    unitAdvance: (unit, rows) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const p = units.get(unit)
        if (!p) return
        p.done += rows
        if (tty) drawBar(unit, p, now)
        else if (now - p.lastLine >= intervalMs) {
          p.lastLine = now
          stream.write(`${describe(unit, p, now)}\n`)
        }
      }),
    unitEnd: (unit) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const p = units.get(unit)
        clearBar()
        if (p) stream.write(`${describe(unit, p, now)} done\n`)
      }),
    note: (line) => Effect.sync(clearBar).pipe(Effect.andThen(Effect.logInfo(line)))
  }
}

/**
 * Progress as log events (for `--log-format json`): every line on stderr is then a
 * JSON object a shipper can take as it is. Advances are throttled like plain lines.
 */
export const makeProgressEvents = (intervalMs = 5000): ProgressReporter => {
  const units = new Map<string, UnitProgress>()
  const event = (name: string, unit: string, p: UnitProgress, now: number) =>
    Effect.logInfo(`${unit}: ${name}`).pipe(Effect.annotateLogs({ event: name, unit, done: p.done, total: p.total, rows_per_second: rate(p.done, now - p.started) }))
  return {
    unitStart: (unit, total, alreadyDone) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const p = { total, done: alreadyDone, started: now, lastLine: now }
        units.set(unit, p)
        return event("unit_start", unit, p, now)
      }),
    unitAdvance: (unit, rows) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const p = units.get(unit)
        if (!p) return Effect.void
        p.done += rows
        if (now - p.lastLine < intervalMs) return Effect.void
        p.lastLine = now
        return event("progress", unit, p, now)
      }),
    unitEnd: (unit) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const p = units.get(unit)
        return p ? event("unit_end", unit, p, now) : Effect.void
      }),
    note: (line) => Effect.logInfo(line).pipe(Effect.annotateLogs({ event: "note" }))
  }
}
