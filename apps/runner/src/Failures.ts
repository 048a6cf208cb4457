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

const line = (text: string, code: number, annotations: Record<string, string> = {}) => Effect.logError(text).pipe(Effect.annotateLogs(annotations), Effect.as(code))

const stepFailure = (e: StepError | DataError) =>
  line(`error: ${e.message}${hints(e.hint)}`, exitFailed, { reason: e.reason._tag, step: e.context.step, unit: e.context.unit })

const connectorFailure = (e: PgError | Neo4jError | EmbeddingError) => line(`error: ${e.message}`, exitFailed, { reason: e.reason._tag })

/**
 * Turns every failure of a command into one log line (text: the message as the user
 * has always seen it; JSON: one object with the reason) and an exit code. A defect is
 * an internal error, with its stack only when POLYMATH_DEBUG is set. Interruption
 * passes through to the runtime, which reports it.
 */
export const reportFailure = (debug: boolean) => <A, R>(self: Effect.Effect<A, CommandFailure, R>): Effect.Effect<A | number, never, R> =>
  (self as Effect.Effect<A, AppFailure, R>).pipe(
    Effect.catchTags({
      SpecError: (e) => line(e.message, exitInvalid),
      PlanError: (e) => line(`the pipeline does not fit the databases or models:\n${e.problems.map((p) => `  - ${p}`).join("\n")}`, exitInvalid),
      ConfigError: (e) => line(`error: ${e.message}`, exitInvalid),
      SearchError: (e) => line(`error: ${e.message}${hints(e.hint ?? undefined)}`, exitInvalid),
      StepError: stepFailure,
      DataError: stepFailure,
      PgError: connectorFailure,
      Neo4jError: connectorFailure,
      EmbeddingError: connectorFailure
    }),
    Effect.catchCause((cause) => {
      if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause) as Effect.Effect<never>
      const e = Cause.squash(cause)
      return line(`internal error: ${e instanceof Error ? (debug ? e.stack ?? e.message : e.message) : String(e)}`, exitFailed)
    })
  )
