import { Effect } from "effect"
import type { ProgressReporter } from "@polymath/engine"

interface UnitProgress {
  total: number | null
  done: number
  started: number
  lastLine: number
}

const rate = (rows: number, ms: number) => (ms > 0 ? Math.round((rows * 1000) / ms) : 0)

/**
 * Progress on stderr: a live bar rewritten in place on a terminal, plain lines
 * every few seconds otherwise (CI logs, pipes).
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
  const describe = (unit: string, p: UnitProgress) => {
    const pct = p.total ? ` (${Math.floor((100 * p.done) / Math.max(p.total, 1))}%)` : ""
    return `${unit}: ${p.done}${p.total !== null ? `/${p.total}` : ""} rows${pct}, ${rate(p.done, Date.now() - p.started)} rows/s`
  }
  const drawBar = (unit: string, p: UnitProgress) => {
    const width = 24
    const frac = p.total ? Math.min(1, p.done / Math.max(p.total, 1)) : 0
    const filled = Math.round(frac * width)
    stream.write(`\r\x1b[2K[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${describe(unit, p)}`)
    barShown = true
  }
  return {
    unitStart: (unit, total, alreadyDone) =>
      Effect.sync(() => {
        const p = { total, done: alreadyDone, started: Date.now(), lastLine: Date.now() }
        units.set(unit, p)
        if (tty) drawBar(unit, p)
        else stream.write(`${unit}: starting, ${total ?? "?"} rows${alreadyDone > 0 ? ` (${alreadyDone} done before)` : ""}\n`)
      }),
    unitAdvance: (unit, rows) =>
      Effect.sync(() => {
        const p = units.get(unit)
        if (!p) return
        p.done += rows
        if (tty) drawBar(unit, p)
        else if (Date.now() - p.lastLine >= intervalMs) {
          p.lastLine = Date.now()
          stream.write(`${describe(unit, p)}\n`)
        }
      }),
    unitEnd: (unit) =>
      Effect.sync(() => {
        const p = units.get(unit)
        clearBar()
        if (p) stream.write(`${describe(unit, p)} done\n`)
      }),
    note: (line) =>
      Effect.sync(() => {
        clearBar()
        stream.write(`${line}\n`)
      })
  }
}
