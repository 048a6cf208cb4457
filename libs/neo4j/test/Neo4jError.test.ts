import { describe, expect, it } from "@effect/vitest"
import { isConnectorFailure, Reason } from "@polymath/engine"
import { cleanMessage, fromDriverError, invalidInput } from "../src/index.ts"
import neo4j from "neo4j-driver"

// Real driver error objects, as the driver builds them from server failure messages.
const driverError = (code: string, message = "boom") => new neo4j.Neo4jError(message, code, "50N42", "error: general processing exception")

describe("fromDriverError", () => {
  it.each([
    ["ServiceUnavailable", "ConnectionLost", "ServiceUnavailable", true, "ServiceUnavailable"],
    ["SessionExpired", "ConnectionLost", "SessionExpired", true, "SessionExpired"],
    ["Neo.TransientError.Transaction.DeadlockDetected", "Deadlock", undefined, true, "Deadlock"],
    ["Neo.TransientError.Transaction.LockClientStopped", "Serialization", undefined, true, "Transient"],
    ["Neo.TransientError.Transaction.Outdated", "Serialization", undefined, true, "Transient"],
    ["Neo.TransientError.General.MemoryPoolOutOfMemoryError", "Transient", undefined, true, "Transient"],
    ["Neo.ClientError.Security.Unauthorized", "Auth", undefined, false, "AuthenticationFailed"],
    ["Neo.ClientError.Security.AuthenticationRateLimit", "Auth", undefined, false, "AuthenticationFailed"],
    ["Neo.ClientError.Security.Forbidden", "Auth", "Forbidden", false, "Forbidden"],
    // The driver renews an expired authorization on retry, so it says retryable.
    ["Neo.ClientError.Security.AuthorizationExpired", "Transient", undefined, true, "AuthenticationFailed"],
    ["Neo.ClientError.Statement.SyntaxError", "Syntax", undefined, false, "SyntaxError"],
    ["Neo.ClientError.Statement.ParameterMissing", "Syntax", undefined, false, "ClientError"],
    ["Neo.ClientError.Database.DatabaseNotFound", "Syntax", undefined, false, "ClientError"],
    ["Neo.ClientError.Schema.ConstraintValidationFailed", "Constraint", undefined, false, "ConstraintViolation"],
    ["Neo.ClientError.Statement.TypeError", "BadData", undefined, false, "ClientError"],
    ["Neo.ClientError.Statement.ArgumentError", "BadData", undefined, false, "ClientError"],
    ["Neo.ClientError.Transaction.Terminated", "Canceled", undefined, false, "ClientError"],
    ["Neo.ClientError.Schema.EquivalentSchemaRuleAlreadyExists", "Unknown", undefined, false, "SchemaError"],
    ["Neo.DatabaseError.General.UnknownError", "Unknown", undefined, false, "DatabaseError"]
  ] as const)("classifies %s as %s", (code, tag, detail, retryable, word) => {
    const e = fromDriverError(driverError(code), "writing")
    expect(isConnectorFailure(e)).toBe(true)
    expect(e._tag).toBe("Neo4jError")
    expect(e.reason._tag).toBe(tag)
    // The status code is the detail unless the mapping names a shorter word.
    expect(e.reason.detail).toBe(detail ?? code)
    expect(e.isRetryable).toBe(retryable)
    expect(e.code).toBe(code)
    // The message keeps the words it always had: `writing: SyntaxError [Neo.ClientError.Statement.SyntaxError]: boom`.
    expect(e.message).toBe(`writing: ${word}${word === code ? "" : ` [${code}]`}: boom`)
  })

  it("treats raw socket errors as retryable lost connections", () => {
    const e = fromDriverError(Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }), "reading")
    expect(e.reason).toEqual(new Reason.ConnectionLost({ detail: "ECONNRESET" }))
    expect(e.isRetryable).toBe(true)
    expect(e.code).toBeUndefined()
    expect(e.message).toBe("reading: ConnectionLost: read ECONNRESET")
  })

  it("treats unknown errors as non-retryable", () => {
    const e = fromDriverError(new TypeError("x is not a function"), "c")
    expect(e.reason._tag).toBe("Unknown")
    expect(e.isRetryable).toBe(false)
  })

  it("passes a Neo4jError through unchanged", () => {
    const e = invalidInput(new Reason.BadData({ detail: "InvalidIdentity" }), "bad identity")
    expect(fromDriverError(e, "again")).toBe(e)
    expect(e.isRetryable).toBe(false)
    expect(isConnectorFailure(e)).toBe(true)
  })

  it("strips stack frames and masks secrets and URL credentials", () => {
    const text = cleanMessage("failed for s3cr3t!\n    at foo (bar.js:1:2)\n    at baz (qux.js:3:4)\ncaused by s3cr3t!", ["s3cr3t!"])
    expect(text).toBe("failed for *** caused by ***")
    const e = fromDriverError(driverError("ServiceUnavailable", "could not reach neo4j://neo4j:hunter2@db:7687"), "connecting")
    expect(e.message).not.toContain("hunter2")
    expect(e.message).toContain("neo4j://neo4j:***@db:7687")
  })
})
