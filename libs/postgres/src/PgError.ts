import { Data, Predicate } from "effect"

/**
 * The one failure type of this lib. It satisfies the engine's `ConnectorFailure`,
 * so the engine's retry policy only ever looks at `isRetryable`.
 */
export class PgError extends Data.TaggedError("PgError")<{
  /** A short machine-readable cause, e.g. "ConnectionLost", "SyntaxError", "RunInProgress". */
  readonly reason: string
  /** True for transient failures (lost connection, deadlock, serialization failure). */
  readonly isRetryable: boolean
  /** Human-readable; includes the SQLSTATE and server message, never the DSN, a password or a stack trace. */
  readonly message: string
  /** The five-character SQLSTATE when the server reported one. */
  readonly sqlState?: string
  /** The original driver error, for debugging; its message has been scrubbed into `message`. */
  readonly cause?: unknown
}> {}

/** Builds a non-retryable PgError that did not come from the driver (bad target, null key, ...). */
export const pgFailure = (reason: string, message: string, sqlState?: string): PgError =>
  sqlState === undefined
    ? new PgError({ reason, isRetryable: false, message: scrubSecrets(message) })
    : new PgError({ reason, isRetryable: false, message: scrubSecrets(message), sqlState })

// Node socket errors that mean the connection is gone but a new one may work.
const connectionErrnos = new Set(["ECONNRESET", "ECONNREFUSED", "EPIPE", "ETIMEDOUT", "ECONNABORTED", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN"])

// Messages the pg driver produces itself (no SQLSTATE) when the socket dies or a connect times out.
const connectionMessages = [
  /connection terminated/i,
  /connection (?:was )?closed/i,
  /client has encountered a connection error/i,
  /timeout exceeded when trying to connect/i,
  /connection timeout/i,
  /server closed the connection unexpectedly/i
]

interface Classification {
  readonly reason: string
  readonly isRetryable: boolean
}

// Retryability by SQLSTATE; the spec lists the transient ones, everything else is permanent.
const classifySqlState = (code: string): Classification => {
  if (code.startsWith("08")) return { reason: "ConnectionLost", isRetryable: true }
  switch (code) {
    case "57P01":
    case "57P02":
    case "57P03":
      return { reason: "ConnectionLost", isRetryable: true }
    case "53300":
      return { reason: "TooManyConnections", isRetryable: true }
    case "40001":
      return { reason: "SerializationFailure", isRetryable: true }
    case "40P01":
      return { reason: "Deadlock", isRetryable: true }
    case "42601":
      return { reason: "SyntaxError", isRetryable: false }
    case "42P01":
      return { reason: "UndefinedTable", isRetryable: false }
    case "42703":
      return { reason: "UndefinedColumn", isRetryable: false }
    case "57014":
      return { reason: "QueryCanceled", isRetryable: false }
    case "25006":
      return { reason: "ReadOnly", isRetryable: false }
  }
  if (code.startsWith("42")) return { reason: "InvalidStatement", isRetryable: false }
  if (code.startsWith("22")) return { reason: "DataError", isRetryable: false }
  if (code.startsWith("23")) return { reason: "ConstraintViolation", isRetryable: false }
  if (code.startsWith("28")) return { reason: "AuthenticationFailed", isRetryable: false }
  if (code.startsWith("3D")) return { reason: "UnknownDatabase", isRetryable: false }
  return { reason: "QueryFailed", isRetryable: false }
}

const SQLSTATE = /^[0-9A-Z]{5}$/

/**
 * Removes credentials that a driver message could echo: the password part of a
 * `postgres://user:password@host` URL and `password=...` keyword pairs.
 */
export const scrubSecrets = (text: string): string =>
  text
    .replace(/(postgres(?:ql)?:\/\/[^:/@\s]*:)[^@\s]*@/gi, "$1***@")
    .replace(/(password\s*=\s*)('[^']*'|\S+)/gi, "$1***")

// The driver's own message; AggregateError (IPv4+IPv6 connect failures) has an empty one.
const driverMessage = (cause: unknown): string => {
  if (cause instanceof AggregateError && cause.errors.length > 0) {
    const inner = cause.errors.map(driverMessage).filter((m) => m.length > 0)
    if (inner.length > 0) return inner.join("; ")
  }
  if (cause instanceof Error && cause.message.length > 0) return cause.message
  if (Predicate.hasProperty(cause, "code") && typeof cause.code === "string") return cause.code
  return typeof cause === "string" ? cause : "unknown error"
}

const stringProp = (u: unknown, key: string): string | undefined =>
  Predicate.hasProperty(u, key) && typeof u[key] === "string" && u[key].length > 0 ? u[key] : undefined

/**
 * Turns anything the pg driver throws into a PgError: `context` says what we were
 * doing ("reading source passages"), the rest comes from the error itself.
 */
export const toPgError = (cause: unknown, context: string): PgError => {
  if (cause instanceof PgError) return cause
  const code = stringProp(cause, "code")
  const server = scrubSecrets(driverMessage(cause)).split("\n")[0] ?? ""
  const lost = (detail: string) =>
    new PgError({
      reason: "ConnectionLost",
      isRetryable: true,
      message: `${context}: connection to Postgres lost or refused (${detail})${server !== detail ? ` — ${server}` : ""}`,
      cause
    })
  // Node errno codes are checked first: some (EPIPE) also look like a five-character SQLSTATE.
  if (code !== undefined && connectionErrnos.has(code)) return lost(code)
  if (code !== undefined && SQLSTATE.test(code)) {
    const { isRetryable, reason } = classifySqlState(code)
    const detail = stringProp(cause, "detail")
    const hint = stringProp(cause, "hint")
    const extra = [detail, hint !== undefined ? `hint: ${hint}` : undefined].filter((s) => s !== undefined)
    const tail = extra.length > 0 ? ` — ${scrubSecrets(truncate(extra.join("; "), 500))}` : ""
    return new PgError({
      reason,
      isRetryable,
      sqlState: code,
      message: `${context}: ${server} (SQLSTATE ${code})${tail}`,
      cause
    })
  }
  // Without a code, only the driver's own wording tells a dead socket from other failures.
  if (connectionMessages.some((re) => re.test(server))) return lost(server)
  return new PgError({ reason: "QueryFailed", isRetryable: false, message: `${context}: ${server}`, cause })
}

const truncate = (s: string, max: number): string => (s.length > max ? `${s.slice(0, max)}…` : s)
