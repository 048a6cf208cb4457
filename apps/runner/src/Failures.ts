import { Cause, Effect } from "effect"
import type { Config } from "effect"
import type { SpecError } from "@polymath/dsl"
import type { EmbeddingError } from "@polymath/embeddings"
import type { ConnectorFailure, DataError, PlanError, SearchError, StepError } from "@polymath/engine"
import type { Neo4jError } from "@polymath/neo4j"
import type { PgError } from "@polymath/postgres"

const exitFailed = 1
const exitInvalid = 2

/** Every typed failure a command can end with, as the engine's ports declare them. */
export type CommandFailure = SpecError | PlanError | StepError | DataError | SearchError | ConnectorFailure | Config.ConfigError

/**
 * The same, with the ports' `ConnectorFailure` resolved to the connectors this app
 * composes (connectorsLayer builds only Postgres and Neo4j connectors, embeddersLayer
 * only ONNX embedders), so every tag is a literal `catchTags` can match exhaustively.
 */
type AppFailure = SpecError | PlanError | StepError | DataError | SearchError | Config.ConfigError | PgError | Neo4jError | EmbeddingError

const hints = (hint: string | undefined): string => (hint ? hint.split("\n").map((h) => `\nhint: ${h}`).join("") : "")

/** A failure as the user reads it: the text, the exit code and the log annotations. */
export interface Described {
  readonly text: string
  readonly code: number
  readonly annotations: Record<string, string>
}

const isTagged = (e: unknown): e is AppFailure => typeof e === "object" && e !== null && "_tag" in e

/**
 * The words for every failure a command can end with (a defect is an internal error,
 * with its stack only in debug mode). Also how a distributed run's workers word a
 * failure for the submitter, who prints it.
 */
export const describeFailure = (e: unknown, debug = false): Described => {
  if (isTagged(e)) {
    switch (e._tag) {
      case "SpecError":
        return { text: e.message, code: exitInvalid, annotations: {} }
      case "PlanError":
        return { text: `the pipeline does not fit the databases or models:\n${e.problems.map((p) => `  - ${p}`).join("\n")}`, code: exitInvalid, annotations: {} }
      case "ConfigError":
        return { text: `error: ${e.message}`, code: exitInvalid, annotations: {} }
      case "SearchError":
        return { text: `error: ${e.message}${hints(e.hint ?? undefined)}`, code: exitInvalid, annotations: {} }
      case "StepError":
      case "DataError":
        return { text: `error: ${e.message}${hints(e.hint)}`, code: exitFailed, annotations: { reason: e.reason._tag, step: e.context.step, unit: e.context.unit } }
      case "PgError":
      case "Neo4jError":
      case "EmbeddingError":
        return { text: `error: ${e.message}`, code: exitFailed, annotations: { reason: e.reason._tag } }
    }
  }
  return { text: `internal error: ${e instanceof Error ? (debug ? e.stack ?? e.message : e.message) : String(e)}`, code: exitFailed, annotations: {} }
}

/**
 * Turns every failure of a command into one log line (text: the message as the user
 * has always seen it; JSON: one object with the reason) and an exit code. Interruption
 * passes through to the runtime, which reports it.
 */
export const reportFailure = (debug: boolean) => <A, R>(self: Effect.Effect<A, CommandFailure, R>): Effect.Effect<A | number, never, R> =>
  self.pipe(
    Effect.catchCause((cause) => {
      if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause) as Effect.Effect<never>
      const d = describeFailure(Cause.squash(cause), debug)
      return Effect.logError(d.text).pipe(Effect.annotateLogs(d.annotations), Effect.as(d.code))
    })
  )
