import { describe, expect, it } from "@effect/vitest"
import { isConnectorFailure } from "@polymath/engine"
import { cleanMessage, fromDriverError } from "../src/index.ts"
import neo4j from "neo4j-driver"

// Real driver error objects, as the driver builds them from server failure messages.
const driverError = (code: string, message = "boom") => new neo4j.Neo4jError(message, code, "50N42", "error: general processing exception")

describe("fromDriverError", () => {
  it.each([
    ["Neo.TransientError.Transaction.DeadlockDetected", "Deadlock", true],
    ["Neo.TransientError.General.MemoryPoolOutOfMemoryError", "Transient", true],
    ["ServiceUnavailable", "ServiceUnavailable", true],
    ["SessionExpired", "SessionExpired", true],
    ["Neo.ClientError.Statement.SyntaxError", "SyntaxError", false],
    ["Neo.ClientError.Schema.ConstraintValidationFailed", "ConstraintViolation", false],
    ["Neo.ClientError.Security.Unauthorized", "AuthenticationFailed", false],
    ["Neo.ClientError.Security.Forbidden", "Forbidden", false],
    ["Neo.DatabaseError.General.UnknownError", "DatabaseError", false]
  ] as const)("classifies %s as %s (retryable: %s)", (code, reason, retryable) => {
    const e = fromDriverError(driverError(code), "writing")
    expect(isConnectorFailure(e)).toBe(true)
    expect(e._tag).toBe("Neo4jError")
    expect(e.reason).toBe(reason)
    expect(e.isRetryable).toBe(retryable)
    expect(e.message.startsWith("writing: ")).toBe(true)
  })

  it("treats raw socket errors as retryable lost connections", () => {
    const e = fromDriverError(Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }), "reading")
    expect(e).toMatchObject({ reason: "ConnectionLost", isRetryable: true })
    expect(e.code).toBeUndefined()
  })

  it("treats unknown errors as non-retryable", () => {
    expect(fromDriverError(new TypeError("x is not a function"), "c")).toMatchObject({ reason: "Unknown", isRetryable: false })
  })

  it("strips stack frames and masks secrets", () => {
    const text = cleanMessage("failed for s3cr3t!\n    at foo (bar.js:1:2)\n    at baz (qux.js:3:4)\ncaused by s3cr3t!", ["s3cr3t!"])
    expect(text).toBe("failed for *** caused by ***")
  })
})
