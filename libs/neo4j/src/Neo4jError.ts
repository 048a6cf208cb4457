import { Data, Effect, Predicate } from "effect"
import { Reason, redact } from "@polymath/engine"
import type { FailureReason } from "@polymath/engine"

/** A Neo4j failure in the engine's `ConnectorFailure` shape; `code` is the server's status code when there is one. */
export class Neo4jError extends Data.TaggedError("Neo4jError")<{
  readonly reason: FailureReason
  readonly message: string
  readonly code?: string
  readonly cause?: unknown
}> {
  /** True for failures a retried batch may overcome: the reason's. */
  get isRetryable(): boolean {
    return this.reason.isRetryable
  }
}

// Socket-level failures surface either as driver ServiceUnavailable errors or, in
// rare paths, as raw Node errors; both mean the server may come back.
const networkErrnos = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN", "ENOTFOUND"])

// A transaction that started before a concurrent change it conflicts with; running it again sees the change.
const serializationCodes = new Set([
  "Neo.TransientError.Transaction.LockClientStopped",
  "Neo.TransientError.Transaction.Outdated",
  "Neo.TransientError.Transaction.ConstraintsChanged"
])

// The driver turns a transaction killed by a user or a timeout into these ClientErrors; retrying would fight the kill.
const canceledCodes = new Set([
  "Neo.ClientError.Transaction.Terminated",
  "Neo.ClientError.Transaction.LockClientStopped",
  "Neo.ClientError.Transaction.TransactionTimedOut",
  "Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration"
])

const badDataCodes = new Set([
  "Neo.ClientError.Statement.TypeError",
  "Neo.ClientError.Statement.ArgumentError",
  "Neo.ClientError.Statement.ArithmeticError"
])

const constraintCodes = new Set([
  "Neo.ClientError.Schema.ConstraintValidationFailed",
  "Neo.ClientError.Statement.ConstraintVerificationFailed"
])

/** `word` is the name messages have always used for the failure; `reason` its classification. */
interface Classified {
  readonly word: string
  readonly reason: FailureReason
}

const classify = (code: string, errno: string | undefined, message: string): Classified => {
  const detail = { detail: code }
  if (code === "ServiceUnavailable" || code === "SessionExpired") return { word: code, reason: new Reason.ConnectionLost(detail) }
  if (code === "Neo.TransientError.Transaction.DeadlockDetected") return { word: "Deadlock", reason: new Reason.Deadlock(detail) }
  if (serializationCodes.has(code)) return { word: "Transient", reason: new Reason.Serialization(detail) }
  if (code.startsWith("Neo.TransientError.")) return { word: "Transient", reason: new Reason.Transient(detail) }
  if (code.startsWith("Neo.ClientError.Security.")) {
    return code.endsWith(".Forbidden")
      ? { word: "Forbidden", reason: new Reason.Auth({ detail: "Forbidden" }) }
      : { word: "AuthenticationFailed", reason: new Reason.Auth(detail) }
  }
  if (code === "Neo.ClientError.Statement.SyntaxError") return { word: "SyntaxError", reason: new Reason.Syntax(detail) }
  if (constraintCodes.has(code)) return { word: "ConstraintViolation", reason: new Reason.Constraint(detail) }
  if (code.startsWith("Neo.ClientError.Schema.")) return { word: "SchemaError", reason: new Reason.Unknown(detail) }
  if (badDataCodes.has(code)) return { word: "ClientError", reason: new Reason.BadData(detail) }
  if (canceledCodes.has(code)) return { word: "ClientError", reason: new Reason.Canceled(detail) }
  if (code.startsWith("Neo.ClientError.Statement.") || code === "Neo.ClientError.Database.DatabaseNotFound") {
    return { word: "ClientError", reason: new Reason.Syntax(detail) }
  }
  if (code.startsWith("Neo.ClientError.")) return { word: "ClientError", reason: new Reason.Unknown(detail) }
  if (code.startsWith("Neo.DatabaseError.")) return { word: "DatabaseError", reason: new Reason.Unknown(detail) }
  if (errno !== undefined && networkErrnos.has(errno)) return { word: "ConnectionLost", reason: new Reason.ConnectionLost({ detail: errno }) }
  if (/ECONNREFUSED|ECONNRESET|connection (refused|reset)/i.test(message)) {
    return { word: "ConnectionLost", reason: new Reason.ConnectionLost({ detail: "ConnectionLost" }) }
  }
  return { word: "Unknown", reason: new Reason.Unknown(code.length > 0 && code !== "N/A" ? detail : {}) }
}

const stringProp = (u: unknown, key: string): string | undefined =>
  Predicate.hasProperty(u, key) && typeof u[key] === "string" ? u[key] : undefined

/** Strips stack frames, collapses whitespace, bounds the length and redacts credentials and the given secrets. */
export const cleanMessage = (message: string, secrets: ReadonlyArray<string> = []): string => {
  const text = redact(
    message
      .split("\n")
      .filter((line) => !/^\s*at\s/.test(line))
      .join(" ")
      .replace(/\s+/g, " ")
      .trim(),
    secrets
  )
  return text.length > 1000 ? `${text.slice(0, 1000)}…` : text
}

/**
 * Maps anything the driver throws to a Neo4jError. `context` says what was being done;
 * `secrets` are masked out of the message in case a server echoes them.
 */
export const fromDriverError = (cause: unknown, context: string, secrets: ReadonlyArray<string> = []): Neo4jError => {
  if (cause instanceof Neo4jError) return cause
  const code = stringProp(cause, "code") ?? ""
  const errno = networkErrnos.has(code) ? code : stringProp(Predicate.hasProperty(cause, "cause") ? cause.cause : undefined, "code")
  const rawMessage = stringProp(cause, "message") ?? String(cause)
  const classified = classify(code, errno, rawMessage)
  // The driver marks a few more codes retryable (an expired authorization it renews on retry) than the rules above.
  const driverRetryable = Predicate.hasProperty(cause, "retryable") && cause.retryable === true
  const retryableAnyway = driverRetryable && !classified.reason.isRetryable
  const word = retryableAnyway && classified.word === "Unknown" ? "Transient" : classified.word
  const reason = retryableAnyway ? new Reason.Transient({ detail: classified.reason.detail ?? word }) : classified.reason
  const hasCode = code.length > 0 && code !== "N/A" && !networkErrnos.has(code)
  const message = `${context}: ${word}${hasCode && code !== word ? ` [${code}]` : ""}: ${cleanMessage(rawMessage, secrets)}`
  return hasCode
    ? new Neo4jError({ reason, message, code, cause })
    : new Neo4jError({ reason, message, cause })
}

/** A non-retryable failure found before anything was sent, e.g. an invalid label or a wrong identity length. */
export const invalidInput = (reason: FailureReason, message: string): Neo4jError => new Neo4jError({ reason, message })

/**
 * Runs pure statement preparation, which throws a Neo4jError for invalid input; anything
 * else thrown there is a bug and is reported as an unknown failure of `context`.
 */
export const prepareCypher = <A>(context: string, f: () => A): Effect.Effect<A, Neo4jError> =>
  Effect.try({ try: f, catch: (cause) => (cause instanceof Neo4jError ? cause : fromDriverError(cause, context)) })
