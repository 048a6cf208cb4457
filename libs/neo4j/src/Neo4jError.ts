import { Data, Predicate } from "effect"

/** A Neo4j failure in the engine's `ConnectorFailure` shape; `code` is the server's status code when there is one. */
export class Neo4jError extends Data.TaggedError("Neo4jError")<{
  readonly reason: string
  readonly isRetryable: boolean
  readonly message: string
  readonly code?: string
  readonly cause?: unknown
}> {}

// Socket-level failures surface either as driver ServiceUnavailable errors or, in
// rare paths, as raw Node errors; both mean the server may come back.
const networkErrnos = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN", "ENOTFOUND"])

const classify = (code: string, errno: string | undefined, message: string): { readonly reason: string; readonly isRetryable: boolean } => {
  if (code === "ServiceUnavailable") return { reason: "ServiceUnavailable", isRetryable: true }
  if (code === "SessionExpired") return { reason: "SessionExpired", isRetryable: true }
  if (code === "Neo.TransientError.Transaction.DeadlockDetected") return { reason: "Deadlock", isRetryable: true }
  if (code.startsWith("Neo.TransientError.")) return { reason: "Transient", isRetryable: true }
  if (code.startsWith("Neo.ClientError.Security.")) {
    return code.endsWith(".Forbidden") ? { reason: "Forbidden", isRetryable: false } : { reason: "AuthenticationFailed", isRetryable: false }
  }
  if (code === "Neo.ClientError.Statement.SyntaxError") return { reason: "SyntaxError", isRetryable: false }
  if (code === "Neo.ClientError.Schema.ConstraintValidationFailed") return { reason: "ConstraintViolation", isRetryable: false }
  if (code.startsWith("Neo.ClientError.Schema.")) return { reason: "SchemaError", isRetryable: false }
  if (code.startsWith("Neo.ClientError.")) return { reason: "ClientError", isRetryable: false }
  if (code.startsWith("Neo.DatabaseError.")) return { reason: "DatabaseError", isRetryable: false }
  if (errno !== undefined && networkErrnos.has(errno)) return { reason: "ConnectionLost", isRetryable: true }
  if (/ECONNREFUSED|ECONNRESET|connection (refused|reset)/i.test(message)) return { reason: "ConnectionLost", isRetryable: true }
  return { reason: "Unknown", isRetryable: false }
}

const stringProp = (u: unknown, key: string): string | undefined =>
  Predicate.hasProperty(u, key) && typeof u[key] === "string" ? u[key] : undefined

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/** Strips stack frames, collapses whitespace, bounds the length and masks the given secrets. */
export const cleanMessage = (message: string, secrets: ReadonlyArray<string> = []): string => {
  let text = message
    .split("\n")
    .filter((line) => !/^\s*at\s/.test(line))
    .join(" ")
    .replace(/\s+/g, " ")
    .trim()
  for (const secret of secrets) {
    if (secret.length > 0) text = text.replace(new RegExp(escapeRegExp(secret), "g"), "***")
  }
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
  // The driver marks a few more codes retryable (e.g. leader switches) than the prefix rules above.
  const driverRetryable = Predicate.hasProperty(cause, "retryable") && cause.retryable === true
  const isRetryable = classified.isRetryable || driverRetryable
  const reason = classified.reason === "Unknown" && driverRetryable ? "Transient" : classified.reason
  const hasCode = code.length > 0 && code !== "N/A" && !networkErrnos.has(code)
  const message = `${context}: ${reason}${hasCode && code !== reason ? ` [${code}]` : ""}: ${cleanMessage(rawMessage, secrets)}`
  return hasCode
    ? new Neo4jError({ reason, isRetryable, message, code, cause })
    : new Neo4jError({ reason, isRetryable, message, cause })
}

/** A non-retryable failure found before anything was sent, e.g. an invalid label or a null key. */
export const invalidInput = (reason: string, message: string): Neo4jError =>
  new Neo4jError({ reason, isRetryable: false, message })
