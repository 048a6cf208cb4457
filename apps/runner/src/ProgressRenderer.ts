import { Clock, Effect, Fiber, Layer } from "effect"
import { Progress } from "@polymath/engine"
import type { ProgressReporter, UnitEnding } from "@polymath/engine"
import { makeLiveLines } from "./progress/LiveLines.ts"
import type { LiveLines, ProgressStream } from "./progress/LiveLines.ts"
import { bar, describeEnd, describeRunning, describeStart, doneRows, etaSeconds, rowsPerSecond, startUnit } from "./progress/UnitProgress.ts"
import type { UnitProgress } from "./progress/UnitProgress.ts"

export type { ProgressStream } from "./progress/LiveLines.ts"

export interface ProgressRendererOptions {
  /** How often live lines are redrawn on a terminal (default 250 ms: 4 Hz). */
  readonly refreshMs?: number
}

/**
 * A progress reporter that owns its stream's bottom lines. `writeLine` is how anything
 * else reaches the same stream while live lines are shown (see `writeAboveProgress`);
 * `close` ends every unit still running as interrupted and stops the redraws.
 */
export interface ProgressRenderer extends ProgressReporter {
  readonly writeLine: (line: string) => void
  readonly close: Effect.Effect<void>
}

// The renderer drawing on each stream, so a logger can write above its lines without holding it.
const renderers = new WeakMap<ProgressStream, ProgressRenderer>()

/**
 * Writes one log line to `stream` (default stderr) without garbling live progress: when a
 * renderer shows lines there, they are erased, the line written, and they are drawn again
 * below it; otherwise the line is written as it is. The logger's sink goes through this:
 * `loggingLayer(format, level, (line) => writeAboveProgress(line))`.
 */
export const writeAboveProgress = (line: string, stream: ProgressStream = process.stderr): void => {
  const renderer = renderers.get(stream)
  if (renderer) renderer.writeLine(line)
  else stream.write(`${line}\n`)
}

const widthOfBar = 20

/**
 * Progress for people on `stream` (stderr). On a terminal: one live line per running unit
 * (several run at once), redrawn every `refreshMs` by a timer fiber that runs while any unit
 * does, each with a bar, rows done/total, percent, rate, time so far and ETA; a finished
 * unit leaves one line that stays. Elsewhere (CI logs, pipes): plain lines, no escape codes,
 * when a unit starts, every `intervalMs` while it runs, and when it ends. Time is Effect's
 * Clock. Notes are log lines.
 */
export const makeProgressRenderer = (
  stream: ProgressStream = process.stderr,
  intervalMs = 5000,
  options: ProgressRendererOptions = {}
): ProgressRenderer => {
  const tty = stream.isTTY === true
  const refreshMs = options.refreshMs ?? 250
  const units = new Map<string, UnitProgress>()
  const live: LiveLines | null = tty ? makeLiveLines(stream) : null
  let ticker: Fiber.Fiber<unknown> | null = null
  let ticking = false

  // The bar gives way first when a line is too long for the terminal: the numbers matter more.
  const frame = (now: number) =>
    [...units.values()].map((p) => {
      const text = describeRunning(p, now)
      const room = Math.min(widthOfBar, (live?.width() ?? 0) - text.length - 3)
      return room >= 5 ? `${bar(p, room)} ${text}` : text
    })
  const writeLine = (line: string) => (live ? live.writeAbove(line) : void stream.write(`${line}\n`))

  // On a terminal every tick redraws; elsewhere each unit gets a line once its interval is up.
  const tick = Effect.map(Clock.currentTimeMillis, (now) => {
    if (live) return live.show(frame(now))
    for (const p of units.values()) {
      if (now - p.lastLine < intervalMs) continue
      p.lastLine = now
      stream.write(`${describeRunning(p, now)}\n`)
    }
  })

  // One timer for all units: started with the first, stopped with the last.
  const startTicker = Effect.suspend(() => {
    if (ticking) return Effect.void
    ticking = true
    const every = live ? refreshMs : Math.min(refreshMs, intervalMs)
    return Effect.forkDetach(Effect.forever(Effect.sleep(every).pipe(Effect.andThen(tick)))).pipe(
      Effect.map((fiber) => void (ticker = fiber))
    )
  })
  const stopTicker = Effect.suspend(() => {
    const fiber = ticker
    ticking = false
    ticker = null
    return fiber ? Fiber.interrupt(fiber) : Effect.void
  })

  const end = (unit: string, ending: UnitEnding) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const p = units.get(unit)
      if (!p) return Effect.void
      units.delete(unit)
      if (live) live.writeAbove(describeEnd(p, now, ending), frame(now))
      else stream.write(`${describeEnd(p, now, ending)}\n`)
      return units.size === 0 ? stopTicker : Effect.void
    })

  const renderer: ProgressRenderer = {
    unitStart: (unit, total, alreadyDone) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const p = startUnit(unit, total, alreadyDone, now)
        units.set(unit, p)
        if (live) live.show(frame(now))
        else stream.write(`${describeStart(p)}\n`)
        return startTicker
      }),
    unitAdvance: (unit, rows) =>
      Effect.sync(() => {
        const p = units.get(unit)
        if (p) p.here += rows
      }),
    unitEnd: (unit, ending = "done") => end(unit, ending),
    // Notes go through the logger; the live lines step aside for it in case the logger writes directly.
    note: (line) =>
      Effect.sync(() => live?.clear()).pipe(
        Effect.andThen(Effect.logInfo(line)),
        Effect.andThen(Effect.suspend(() => (live && units.size > 0 ? tick : Effect.void)))
      ),
    writeLine,
    close: Effect.suspend(() => Effect.forEach([...units.keys()], (u) => end(u, "interrupted"), { discard: true })).pipe(
      Effect.andThen(stopTicker)
    )
  }
  if (tty) renderers.set(stream, renderer)
  return renderer
}

/**
 * The renderer as the Progress service for the life of a scope: when the scope closes (the
 * program ends or is interrupted) units still shown end as interrupted and the timer stops.
 */
export const progressRendererLayer = (stream?: ProgressStream, intervalMs?: number, options?: ProgressRendererOptions) =>
  Layer.effect(
    Progress,
    Effect.acquireRelease(Effect.sync(() => makeProgressRenderer(stream, intervalMs, options)), (r) => r.close)
  )

/**
 * Progress as log events (for `--log-format json`): every line on stderr is then a JSON
 * object a shipper can take as it is. Events unit_start, progress (throttled to one per
 * `intervalMs` per unit), unit_end and note carry done (clamped to total), total,
 * rows_per_second and eta_seconds (null when unknown), measured from rows done by this process.
 */
export const makeProgressEvents = (intervalMs = 5000): ProgressReporter => {
  const units = new Map<string, UnitProgress>()
  const event = (name: string, p: UnitProgress, now: number, extra: Record<string, unknown> = {}) =>
    Effect.logInfo(`${p.unit}: ${name}`).pipe(Effect.annotateLogs({
      event: name,
      unit: p.unit,
      done: doneRows(p),
      total: p.total,
      rows_per_second: Math.round(rowsPerSecond(p, now)),
      eta_seconds: etaSeconds(p, now),
      ...extra
    }))
  return {
    unitStart: (unit, total, alreadyDone) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const p = startUnit(unit, total, alreadyDone, now)
        units.set(unit, p)
        return event("unit_start", p, now, { done_before: p.before })
      }),
    unitAdvance: (unit, rows) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const p = units.get(unit)
        if (!p) return Effect.void
        p.here += rows
        if (now - p.lastLine < intervalMs) return Effect.void
        p.lastLine = now
        return event("progress", p, now)
      }),
    unitEnd: (unit, ending = "done") =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const p = units.get(unit)
        if (!p) return Effect.void
        units.delete(unit)
        return event("unit_end", p, now, { ending })
      }),
    note: (line) => Effect.logInfo(line).pipe(Effect.annotateLogs({ event: "note" }))
  }
}
