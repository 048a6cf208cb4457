import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import { Progress } from "@polymath/engine"
import { loggingLayer } from "../src/Logging.ts"
import { makeProgressEvents, makeProgressRenderer, progressRendererLayer, writeAboveProgress } from "../src/ProgressRenderer.ts"

/**
 * A stand-in for stderr that keeps every write and replays them on a small terminal
 * model (newline, cursor up `ESC[nA`, erase below `ESC[J`), so a test sees the screen a
 * person would.
 */
class FakeTerminal {
  readonly writes: Array<string> = []
  readonly isTTY: boolean
  readonly columns: number
  readonly rows: number
  constructor(isTTY: boolean, columns = 100, rows = 40) {
    this.isTTY = isTTY
    this.columns = columns
    this.rows = rows
  }
  write(text: string) {
    this.writes.push(text)
    return true
  }
  get raw() {
    return this.writes.join("")
  }
  screen(): Array<string> {
    const lines: Array<string> = [""]
    let row = 0
    const text = this.raw
    for (let i = 0; i < text.length; i++) {
      const c = text[i]!
      if (c === "\x1b") {
        const m = /^\x1b\[(\d*)([A-Za-z])/.exec(text.slice(i))
        if (!m) throw new Error(`unexpected escape at ${i}: ${JSON.stringify(text.slice(i, i + 8))}`)
        if (m[2] === "A") row = Math.max(0, row - Number(m[1] || 1))
        else if (m[2] === "J") {
          lines.splice(row + 1)
          lines[row] = ""
        }
        else throw new Error(`unexpected escape ${m[0]}`)
        i += m[0].length - 1
      } else if (c === "\n") {
        row++
        if (lines.length <= row) lines.push("")
      } else lines[row] += c
    }
    return lines.filter((l, i) => !(i === lines.length - 1 && l === ""))
  }
}

const tick = (ms: number) => TestClock.adjust(`${ms} millis`)

describe("progress on a terminal", () => {
  it.effect("one live line per running unit, redrawn 4 times a second with rate and ETA; finished units leave a line", () =>
    Effect.gen(function*() {
      const term = new FakeTerminal(true)
      const p = makeProgressRenderer(term)
      yield* p.unitStart("embed_plots", 1000, 0)
      yield* p.unitStart("sync/nodes[0]:Movie", 50, 0)
      expect(term.screen()).toEqual([
        "[--------------------] embed_plots: 0/1000 rows (0%), 0.0 rows/s, 0s, ETA ?",
        "[--------------------] sync/nodes[0]:Movie: 0/50 rows (0%), 0.0 rows/s, 0s, ETA ?"
      ])
      // Nothing advances for a while (a first embed batch): the lines still move, by the clock.
      const before = term.writes.length
      yield* tick(1000)
      expect(term.writes.length - before).toBe(4)
      expect(term.screen()[0]).toBe("[--------------------] embed_plots: 0/1000 rows (0%), 0.0 rows/s, 1s, ETA ?")

      yield* p.unitAdvance("embed_plots", 100)
      yield* p.unitAdvance("sync/nodes[0]:Movie", 25)
      yield* tick(9000)
      expect(term.screen()).toEqual([
        "[##------------------] embed_plots: 100/1000 rows (10%), 10 rows/s, 10s, ETA 1m30s",
        "[##########----------] sync/nodes[0]:Movie: 25/50 rows (50%), 2.5 rows/s, 10s, ETA 10s"
      ])

      yield* p.unitAdvance("sync/nodes[0]:Movie", 25)
      yield* p.unitEnd("sync/nodes[0]:Movie", "done")
      expect(term.screen()).toEqual([
        "sync/nodes[0]:Movie: 50/50 rows (100%), 5.0 rows/s, 10s, done",
        "[##------------------] embed_plots: 100/1000 rows (10%), 10 rows/s, 10s, ETA 1m30s"
      ])
      yield* p.unitAdvance("embed_plots", 900)
      yield* tick(250)
      yield* p.unitEnd("embed_plots")
      expect(term.screen()).toEqual([
        "sync/nodes[0]:Movie: 50/50 rows (100%), 5.0 rows/s, 10s, done",
        "embed_plots: 1000/1000 rows (100%), 98 rows/s, 10s, done"
      ])
      // The last unit stopped the timer: no more redraws.
      const after = term.writes.length
      yield* tick(5000)
      expect(term.writes.length).toBe(after)
    }))

  it.effect("a resumed unit never passes 100%, and its rate counts only rows done now", () =>
    Effect.gen(function*() {
      const term = new FakeTerminal(true)
      const p = makeProgressRenderer(term)
      // The estimate of rows done before is more than the source holds now.
      yield* p.unitStart("sync/nodes[0]:Paper", 272, 300)
      expect(term.screen()).toEqual(["[####################] sync/nodes[0]:Paper: 272/272 rows (100%), 0.0 rows/s, 0s, ETA 0s"])
      yield* p.unitEnd("sync/nodes[0]:Paper")

      yield* p.unitStart("sync/nodes[1]:Concept", 272, 200)
      yield* tick(2000)
      expect(term.screen().at(-1)).toBe("[###############-----] sync/nodes[1]:Concept: 200/272 rows (73%), 0.0 rows/s, 2s, ETA ?")
      yield* p.unitAdvance("sync/nodes[1]:Concept", 36)
      yield* tick(2000)
      // 36 rows in 4 s: 9 rows/s, 36 rows left.
      expect(term.screen().at(-1)).toBe("[#################---] sync/nodes[1]:Concept: 236/272 rows (86%), 9.0 rows/s, 4s, ETA 4s")
      yield* p.unitAdvance("sync/nodes[1]:Concept", 136)
      yield* tick(250)
      expect(term.screen().at(-1)).toContain("272/272 rows (100%)")
      yield* p.unitEnd("sync/nodes[1]:Concept")
      const shown = [...term.raw.matchAll(/(\d+)\/272 rows \((\d+)%\)/g)]
      expect(shown.length).toBeGreaterThan(5)
      expect(shown.every((m) => Number(m[1]) <= 272 && Number(m[2]) <= 100)).toBe(true)
    }))

  it.effect("log lines go above the live lines, which are drawn again below them", () =>
    Effect.gen(function*() {
      const term = new FakeTerminal(true)
      const p = makeProgressRenderer(term)
      yield* p.unitStart("a", 10, 0)
      yield* p.unitStart("b", 10, 0)
      writeAboveProgress("warning: retrying after a transient failure", term)
      p.writeLine("run 1234")
      expect(term.screen()).toEqual([
        "warning: retrying after a transient failure",
        "run 1234",
        "[--------------------] a: 0/10 rows (0%), 0.0 rows/s, 0s, ETA ?",
        "[--------------------] b: 0/10 rows (0%), 0.0 rows/s, 0s, ETA ?"
      ])
      // Through the runner's logger, as the notes go.
      yield* p.note("resuming run r-1").pipe(Effect.provide(loggingLayer("text", "info", (l) => writeAboveProgress(l, term))))
      expect(term.screen().slice(2)).toEqual([
        "resuming run r-1",
        "[--------------------] a: 0/10 rows (0%), 0.0 rows/s, 0s, ETA ?",
        "[--------------------] b: 0/10 rows (0%), 0.0 rows/s, 0s, ETA ?"
      ])
      yield* p.unitEnd("a", "failed")
      yield* p.unitEnd("b", "interrupted")
      expect(term.screen().slice(-2)).toEqual(["a: 0/10 rows (0%), 0.0 rows/s, 0s, failed", "b: 0/10 rows (0%), 0.0 rows/s, 0s, interrupted"])
      // With no live lines a log line is written as it is.
      const n = term.writes.length
      writeAboveProgress("done", term)
      expect(term.writes.slice(n)).toEqual(["done\n"])
    }))

  it.effect("lines fit the terminal: the bar shrinks, then goes, then the line is cut; too many units are summed up", () =>
    Effect.gen(function*() {
      const unit = "sync_graph/relationships[0]:ACTED_IN"
      const line = `${unit}: 0/25 rows (0%), 0.0 rows/s, 0s, ETA ?`
      for (const [columns, shown] of [
        [100, `[--------------------] ${line}`],
        [90, `[-----------] ${line}`],
        [80, line],
        [40, `${line.slice(0, 38)}…`]
      ] as const) {
        const term = new FakeTerminal(true, columns)
        const p = makeProgressRenderer(term)
        yield* p.unitStart(unit, 25, 0)
        expect(term.screen()).toEqual([shown])
        yield* p.unitEnd(unit)
      }
      const term = new FakeTerminal(true, 100, 4)
      const p = makeProgressRenderer(term)
      for (const u of ["a", "b", "c", "d", "e"]) yield* p.unitStart(u, 10, 0)
      expect(term.screen()).toEqual([
        "[--------------------] a: 0/10 rows (0%), 0.0 rows/s, 0s, ETA ?",
        "[--------------------] b: 0/10 rows (0%), 0.0 rows/s, 0s, ETA ?",
        "… and 3 more"
      ])
      yield* p.close
    }))

  it.effect("closing the layer's scope (an interrupted program) finalizes the lines and stops the timer", () =>
    Effect.gen(function*() {
      const term = new FakeTerminal(true)
      yield* Effect.gen(function*() {
        const p = yield* Progress
        yield* p.unitStart("a", 10, 0)
        yield* p.unitAdvance("a", 4)
        yield* tick(1000)
      }).pipe(Effect.provide(Layer.fresh(progressRendererLayer(term))))
      expect(term.screen()).toEqual(["a: 4/10 rows (40%), 4.0 rows/s, 1s, interrupted"])
      const n = term.writes.length
      yield* tick(2000)
      expect(term.writes.length).toBe(n)
    }))
})

describe("progress elsewhere", () => {
  it.effect("plain lines: start, every 5 s per running unit, done; no escape codes", () =>
    Effect.gen(function*() {
      const term = new FakeTerminal(false)
      const p = makeProgressRenderer(term)
      yield* p.unitStart("a", 100, 0)
      yield* tick(2000)
      yield* p.unitStart("b", 60, 20)
      yield* p.unitAdvance("a", 30)
      yield* p.unitAdvance("b", 10)
      yield* tick(3000)
      yield* tick(2000)
      yield* p.unitAdvance("a", 70)
      yield* p.unitEnd("a")
      yield* tick(5000)
      yield* p.unitEnd("b", "stopped")
      expect(term.writes.join("")).not.toContain("\x1b")
      expect(term.writes.join("").split("\n").filter((l) => l !== "")).toEqual([
        "a: starting, 100 rows",
        "b: starting, 60 rows (20 done before)",
        "a: 30/100 rows (30%), 6.0 rows/s, 5s, ETA 12s",
        "b: 30/60 rows (50%), 2.0 rows/s, 5s, ETA 15s",
        "a: 100/100 rows (100%), 14 rows/s, 7s, done",
        "b: 30/60 rows (50%), 1.0 rows/s, 10s, ETA 30s",
        "b: 30/60 rows (50%), 1.0 rows/s, 10s, stopped"
      ])
    }))
})

describe("progress as log events", () => {
  it.effect("unit_start, throttled progress and unit_end carry clamped counts, rate and ETA", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const p = makeProgressEvents(5000)
      yield* Effect.gen(function*() {
        yield* p.unitStart("u", 100, 150)
        yield* p.unitEnd("u")
        yield* p.unitStart("v", 100, 20)
        yield* tick(1000)
        yield* p.unitAdvance("v", 10)
        yield* tick(4000)
        yield* p.unitAdvance("v", 10)
        yield* p.unitEnd("v", "failed")
        yield* p.note("run r-1")
      }).pipe(Effect.provide(loggingLayer("json", "info", (l) => void lines.push(l))))
      const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>)
      const pick = ({ event, unit, done, total, rows_per_second, eta_seconds }: Record<string, unknown>) => ({ event, unit, done, total, rows_per_second, eta_seconds })
      expect(records.map(pick)).toEqual([
        { event: "unit_start", unit: "u", done: 100, total: 100, rows_per_second: 0, eta_seconds: 0 },
        { event: "unit_end", unit: "u", done: 100, total: 100, rows_per_second: 0, eta_seconds: 0 },
        { event: "unit_start", unit: "v", done: 20, total: 100, rows_per_second: 0, eta_seconds: null },
        { event: "progress", unit: "v", done: 40, total: 100, rows_per_second: 4, eta_seconds: 15 },
        { event: "unit_end", unit: "v", done: 40, total: 100, rows_per_second: 4, eta_seconds: 15 },
        { event: "note", unit: undefined, done: undefined, total: undefined, rows_per_second: undefined, eta_seconds: undefined }
      ])
      expect(records[4]!["ending"]).toBe("failed")
    }))
})
