import { Cause, Layer, Logger, References } from "effect"
import type { LogLevel } from "effect"
import type { LogFormat, LogLevelName } from "./RunnerConfig.ts"

/** Where log lines go: stderr, always (stdout carries only results: summaries, plans, schemas). */
export type Sink = (line: string) => void

const stderrSink: Sink = (line) => void process.stderr.write(`${line}\n`)

const levels: Record<LogLevelName, LogLevel.LogLevel> = { debug: "Debug", info: "Info", warn: "Warn", error: "Error" }

/** A level as POLYMATH_LOG_LEVEL names it, as Effect names it. */
export const toLogLevel = (name: LogLevelName): LogLevel.LogLevel => levels[name]

const messageText = (message: unknown): string => {
  const parts = Array.isArray(message) ? message : [message]
  return parts.map((p) => (typeof p === "string" ? p : JSON.stringify(p))).join(" ")
}

// In text mode only these annotations are shown (after the message), so a human sees where a warning came from.
const textAnnotations = ["step", "unit", "keys"] as const

/**
 * Text lines for people: info as the bare message (what the runner always printed),
 * warnings and errors prefixed unless the message carries its own prefix, and for
 * warnings the step/unit/keys they came from.
 */
export const textLogger = (sink: Sink = stderrSink) =>
  Logger.make((options) => {
    const s = Logger.formatStructured.log(options)
    const text = messageText(options.message)
    const level = options.logLevel
    const prefix = level === "Warn" ? "warning: " : level === "Error" || level === "Fatal" ? "error: " : level === "Debug" || level === "Trace" ? "debug: " : ""
    const where = level === "Info" ? [] : textAnnotations.filter((k) => s.annotations[k] !== undefined && s.annotations[k] !== "").map((k) => `${k}=${String(s.annotations[k])}`)
    const cause = options.cause.reasons.length > 0 && (level === "Debug" || level === "Trace") ? `\n${Cause.pretty(options.cause)}` : ""
    const head = /^(warning|error|internal error|hint|debug): /.test(text) ? text : `${prefix}${text}`
    sink(`${head}${where.length > 0 ? ` (${where.join(", ")})` : ""}${cause}`)
  })

/**
 * One JSON object per line for log shippers: time, level, message, then the
 * annotations flat (run_id, pipeline, step, unit, keys, and event fields such as a
 * progress event's counts).
 */
export const jsonLogger = (sink: Sink = stderrSink) =>
  Logger.make((options) => {
    const s = Logger.formatStructured.log(options)
    const record: Record<string, unknown> = { time: options.date.toISOString(), level: s.level.toLowerCase(), message: messageText(options.message), ...s.annotations }
    if (options.cause.reasons.length > 0) record["cause"] = Cause.pretty(options.cause)
    sink(JSON.stringify(record, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)))
  })

/** The runner's logging: one logger (replacing Effect's default console logger) and a minimum level. */
export const loggingLayer = (format: LogFormat, level: LogLevelName | LogLevel.LogLevel, sink: Sink | undefined = stderrSink) =>
  Layer.mergeAll(
    Logger.layer([format === "json" ? jsonLogger(sink ?? stderrSink) : textLogger(sink ?? stderrSink)]),
    Layer.succeed(References.MinimumLogLevel, level in levels ? levels[level as LogLevelName] : (level as LogLevel.LogLevel))
  )
