import { Data, Predicate } from "effect"

/**
 * Why an external operation failed, as a tagged union in the style of effect's
 * `SqlError` reasons: every connector lib (Postgres, Neo4j, embeddings) classifies
 * its driver's failures into one of these, and the retry policy reads only
 * `isRetryable`. `detail` is a short, secret-free word from the driver (a SQLSTATE
 * class, a Neo4j status code) for logs; the human message lives on the error.
 */
interface ReasonFields {
  readonly detail?: string
}

/** The connection is gone, refused or timed out while opening; a new one may work. */
export class ConnectionLost extends Data.TaggedClass("ConnectionLost")<ReasonFields> {
  get isRetryable(): boolean {
    return true
  }
}

/** Two transactions waited on each other; the server aborted one. */
export class Deadlock extends Data.TaggedClass("Deadlock")<ReasonFields> {
  get isRetryable(): boolean {
    return true
  }
}

/** A serializable transaction lost a race (SQLSTATE 40001, Neo4j lock client stopped). */
export class Serialization extends Data.TaggedClass("Serialization")<ReasonFields> {
  get isRetryable(): boolean {
    return true
  }
}

/** The server said "try again": too many connections, a lock or leader timeout, a transient cluster state. */
export class Transient extends Data.TaggedClass("Transient")<ReasonFields> {
  get isRetryable(): boolean {
    return true
  }
}

/** Credentials refused or permission denied. */
export class Auth extends Data.TaggedClass("Auth")<ReasonFields> {
  get isRetryable(): boolean {
    return false
  }
}

/** The statement is malformed or names something that does not exist (table, column, label index, database). */
export class Syntax extends Data.TaggedClass("Syntax")<ReasonFields> {
  get isRetryable(): boolean {
    return false
  }
}

/** A constraint (unique, not null, foreign key, check) rejected the write. */
export class Constraint extends Data.TaggedClass("Constraint")<ReasonFields> {
  get isRetryable(): boolean {
    return false
  }
}

/** A value the target cannot take (bad type, out of range, a NULL key, a duplicate source key). */
export class BadData extends Data.TaggedClass("BadData")<ReasonFields> {
  get isRetryable(): boolean {
    return false
  }
}

/** The target is not in a state to take this work (read-only, a run in progress, a wrong vector dimension). */
export class Unavailable extends Data.TaggedClass("Unavailable")<ReasonFields> {
  get isRetryable(): boolean {
    return false
  }
}

/** The operation was cancelled (statement timeout, cancelled query). */
export class Canceled extends Data.TaggedClass("Canceled")<ReasonFields> {
  get isRetryable(): boolean {
    return false
  }
}

/** Anything not classified above; permanent, so it is never retried blindly. */
export class Unknown extends Data.TaggedClass("Unknown")<ReasonFields> {
  get isRetryable(): boolean {
    return false
  }
}

export type FailureReason =
  | ConnectionLost
  | Deadlock
  | Serialization
  | Transient
  | Auth
  | Syntax
  | Constraint
  | BadData
  | Unavailable
  | Canceled
  | Unknown

/** The reason's tag and detail, for a log line: `ConnectionLost(08006)`. */
export const describeReason = (r: FailureReason): string => (r.detail ? `${r._tag}(${r.detail})` : r._tag)

const reasonTags = new Set([
  "ConnectionLost",
  "Deadlock",
  "Serialization",
  "Transient",
  "Auth",
  "Syntax",
  "Constraint",
  "BadData",
  "Unavailable",
  "Canceled",
  "Unknown"
])

/** Narrows an unknown value to a FailureReason. */
export const isFailureReason = (u: unknown): u is FailureReason =>
  Predicate.hasProperty(u, "_tag") && typeof u._tag === "string" && reasonTags.has(u._tag) &&
  Predicate.hasProperty(u, "isRetryable")
