import { Data, Predicate } from "effect"
import { Reason, redact } from "@polymath/engine"
import type { FailureReason } from "@polymath/engine"

/**
 * The one failure type of this lib. It satisfies the engine's `ConnectorFailure`,
 * so the engine's retry policy only ever looks at `isRetryable`.
 */
export class PgError extends Data.TaggedError("PgError")<{
  /** Why it failed; `detail` carries the fine-grained word ("UndefinedTable", "RunInProgress", a SQLSTATE). */
  readonly reason: FailureReason
  /** Human-readable; includes the SQLSTATE and server message, never the DSN, a password or a stack trace. */
  readonly message: string
  /** The five-character SQLSTATE when the server reported one. */
  readonly sqlState?: string
  /** The original driver error, for debugging; its message has been redacted into `message`. */
  readonly cause?: unknown
}> {
  /** True for transient failures (lost connection, deadlock, serialization failure, too many connections). */
  get isRetryable(): boolean {
    return this.reason.isRetryable
  }
}

/** Builds a PgError that did not come from the driver (bad target, null key, ...). */
export const pgFailure = (reason: FailureReason, message: string, sqlState?: string): PgError =>
  sqlState === undefined
    ? new PgError({ reason, message: redact(message) })
    : new PgError({ reason, message: redact(message), sqlState })

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

// The SQLSTATEs that have a name worth keeping in `detail`; others keep the code itself.
const namedStates: ReadonlyMap<string, string> = new Map([
  ["53300", "TooManyConnections"],
  ["55P03", "LockNotAvailable"],
  ["42501", "InsufficientPrivilege"],
  ["42601", "SyntaxError"],
  ["42P01", "UndefinedTable"],
  ["42703", "UndefinedColumn"],
  ["3D000", "UnknownDatabase"],
  ["25006", "ReadOnly"]
])

/** The reason for a SQLSTATE; the first four kinds are transient, everything else is permanent. */
const classifySqlState = (code: string): FailureReason => {
  const detail = namedStates.get(code) ?? code
  if (code.startsWith("08") || code === "57P01" || code === "57P02" || code === "57P03") return new Reason.ConnectionLost({ detail })
  switch (code) {
    case "40P01":
      return new Reason.Deadlock({ detail })
    case "40001":
      return new Reason.Serialization({ detail })
    case "53300":
    case "55P03":
      return new Reason.Transient({ detail })
    case "42501":
      return new Reason.Auth({ detail })
    case "25006":
      return new Reason.Unavailable({ detail })
    case "57014":
      return new Reason.Canceled({ detail })
  }
  if (code.startsWith("28")) return new Reason.Auth({ detail })
  if (code.startsWith("42")) return new Reason.Syntax({ detail: namedStates.get(code) ?? "InvalidStatement" })
  if (code.startsWith("3D")) return new Reason.Syntax({ detail })
  if (code.startsWith("23")) return new Reason.Constraint({ detail })
  if (code.startsWith("22")) return new Reason.BadData({ detail })
  return new Reason.Unknown({ detail })
}

const SQLSTATE = /^[0-9A-Z]{5}$/

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

/** The first line of a driver error's message, with secrets removed: what the server said. */
export const serverMessage = (cause: unknown): string => redact(driverMessage(cause)).split("\n")[0] ?? ""

/**
 * Turns anything the pg driver throws into a PgError: `context` says what we were
 * doing ("reading source passages"), the rest comes from the error itself.
 */
export const toPgError = (cause: unknown, context: string): PgError => {
  if (cause instanceof PgError) return cause
  const code = stringProp(cause, "code")
  const server = serverMessage(cause)
  const lost = (what: string, detail?: string) =>
    new PgError({
      reason: new Reason.ConnectionLost(detail === undefined ? {} : { detail }),
      message: `${context}: connection to Postgres lost or refused (${what})${server !== what ? ` — ${server}` : ""}`,
      cause
    })
  // Node errno codes are checked first: some (EPIPE) also look like a five-character SQLSTATE.
  if (code !== undefined && connectionErrnos.has(code)) return lost(code, code)
  if (code !== undefined && SQLSTATE.test(code)) {
    const detail = stringProp(cause, "detail")
    const hint = stringProp(cause, "hint")
    const extra = [detail, hint !== undefined ? `hint: ${hint}` : undefined].filter((s) => s !== undefined)
    const tail = extra.length > 0 ? ` — ${redact(truncate(extra.join("; "), 500))}` : ""
    return new PgError({
      reason: classifySqlState(code),
      sqlState: code,
      message: `${context}: ${server} (SQLSTATE ${code})${tail}`,
      cause
    })
  }
  // Without a code, only the driver's own wording tells a dead socket from other failures.
  if (connectionMessages.some((re) => re.test(server))) return lost(server)
  return new PgError({ reason: new Reason.Unknown(code === undefined ? {} : { detail: code }), message: `${context}: ${server}`, cause })
}

const truncate = (s: string, max: number): string => (s.length > max ? `${s.slice(0, max)}…` : s)
