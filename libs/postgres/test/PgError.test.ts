import { describe, expect, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { makePgConnector } from "../src/PgConnector.ts"
import { acquirePgPool } from "../src/PgPool.ts"
import { Reason } from "@polymath/engine"
import { PgError, pgFailure, toPgError } from "../src/PgError.ts"
import { testDsn, withAdmin } from "./support.ts"

const sqlError = (code: string, message: string) => Object.assign(new Error(message), { code, severity: "ERROR" })
const socketError = (code: string) => Object.assign(new Error(`connect ${code} 127.0.0.1:5432`), { code })

describe("PgError classification", () => {
  it.each([
    ["08006", "ConnectionLost", "08006"],
    ["08003", "ConnectionLost", "08003"],
    ["57P01", "ConnectionLost", "57P01"],
    ["57P02", "ConnectionLost", "57P02"],
    ["57P03", "ConnectionLost", "57P03"],
    ["53300", "Transient", "TooManyConnections"],
    ["55P03", "Transient", "LockNotAvailable"],
    ["40001", "Serialization", "40001"],
    ["40P01", "Deadlock", "40P01"]
  ])("SQLSTATE %s is retryable (%s)", (code, tag, detail) => {
    const e = toPgError(sqlError(code, "boom"), "doing x")
    expect(e.isRetryable).toBe(true)
    expect(e.reason).toMatchObject({ _tag: tag, detail })
    expect(e.reason.isRetryable).toBe(true)
    expect(e.sqlState).toBe(code)
  })

  it.each([
    ["42601", "Syntax", "SyntaxError"],
    ["42703", "Syntax", "UndefinedColumn"],
    ["42P01", "Syntax", "UndefinedTable"],
    ["42883", "Syntax", "InvalidStatement"],
    ["3D000", "Syntax", "UnknownDatabase"],
    ["42501", "Auth", "InsufficientPrivilege"],
    ["28P01", "Auth", "28P01"],
    ["22P02", "BadData", "22P02"],
    ["23505", "Constraint", "23505"],
    ["25006", "Unavailable", "ReadOnly"],
    ["57014", "Canceled", "57014"],
    ["XX000", "Unknown", "XX000"]
  ])("SQLSTATE %s is not retryable (%s)", (code, tag, detail) => {
    const e = toPgError(sqlError(code, "server says no"), "doing x")
    expect(e.isRetryable).toBe(false)
    expect(e.reason).toMatchObject({ _tag: tag, detail })
    expect(e.message).toBe(`doing x: server says no (SQLSTATE ${code})`)
  })

  it.each(["ECONNRESET", "ECONNREFUSED", "EPIPE", "ETIMEDOUT"])("socket error %s is a retryable connection loss", (code) => {
    const e = toPgError(socketError(code), "reading")
    expect(e.isRetryable).toBe(true)
    expect(e.reason).toMatchObject({ _tag: "ConnectionLost", detail: code })
    expect(e.message).toContain(code)
  })

  it("driver messages about a dead connection are retryable", () => {
    for (const m of ["Connection terminated unexpectedly", "Connection terminated due to connection timeout"]) {
      const e = toPgError(new Error(m), "x")
      expect(e.isRetryable).toBe(true)
      expect(e.reason._tag).toBe("ConnectionLost")
    }
  })

  it("AggregateError from a dual-stack connect keeps the inner messages", () => {
    const agg = Object.assign(new AggregateError([socketError("ECONNREFUSED"), socketError("ECONNREFUSED")], ""), { code: "ECONNREFUSED" })
    const e = toPgError(agg, "connecting")
    expect(e.isRetryable).toBe(true)
    expect(e.message).toContain("ECONNREFUSED 127.0.0.1:5432")
  })

  it("an unclassified driver error is permanent", () => {
    const e = toPgError(new Error("something odd"), "doing x")
    expect(e.isRetryable).toBe(false)
    expect(e.reason._tag).toBe("Unknown")
    expect(e.message).toBe("doing x: something odd")
  })

  it("messages never contain passwords or stack traces", () => {
    const leaky = new Error("could not connect to postgres://etl:s3cret@db:5432/x with password=hunter2\n    at Foo (bar.js:1:1)")
    const e = toPgError(leaky, "connecting")
    expect(e.message).not.toContain("s3cret")
    expect(e.message).not.toContain("hunter2")
    expect(e.message).not.toContain(" at Foo")
    expect(toPgError(new Error("postgresql://u:p%40ss@h/db"), "x").message).toBe("x: postgresql://u:***@h/db")
    // The server's detail and hint are redacted too, and a key=value DSN as well.
    const detailed = Object.assign(sqlError("08001", "could not connect"), { detail: "dsn was host=h password='a b' user=u", hint: "try postgres://u:pw@h" })
    const d = toPgError(detailed, "connecting")
    expect(d.message).toBe("connecting: could not connect (SQLSTATE 08001) — dsn was host=h password=*** user=u; hint: try postgres://u:***@h")
  })

  it("pgFailure keeps its reason, is permanent unless the reason is retryable, and redacts its message", () => {
    const e = pgFailure(new Reason.Unavailable({ detail: "RunInProgress" }), "busy at postgres://u:pw@h/db")
    expect(e).toMatchObject({ _tag: "PgError", reason: { _tag: "Unavailable", detail: "RunInProgress" }, isRetryable: false })
    expect(e.message).toBe("busy at postgres://u:***@h/db")
    expect(e.sqlState).toBeUndefined()
    expect(pgFailure(new Reason.Transient({}), "m", "53300")).toMatchObject({ isRetryable: true, sqlState: "53300" })
  })

  it("keeps an existing PgError as is", () => {
    const original = new PgError({ reason: new Reason.Unknown({}), message: "m" })
    expect(toPgError(original, "ctx")).toBe(original)
  })
})

describe("PgError from a real server", () => {
  it.effect("a syntax error is not retryable and names its SQLSTATE", () =>
    Effect.gen(function*() {
      const c = yield* makePgConnector({ name: "errors", dsn: testDsn() })
      const e = yield* Effect.flip(c.query({ text: "SELEC 1", params: [] }))
      expect(e._tag).toBe("PgError")
      expect(e.isRetryable).toBe(false)
      expect(e.reason).toMatchObject({ _tag: "Syntax", detail: "SyntaxError" })
      expect(e.message).toContain("SQLSTATE 42601")
      expect(e.message).toContain("syntax error at or near \"SELEC\"")
      expect(e.message).not.toContain(Redacted.value(testDsn()))
    }))

  it.effect("an undefined column is not retryable", () =>
    Effect.gen(function*() {
      const c = yield* makePgConnector({ name: "errors", dsn: testDsn() })
      const e = yield* Effect.flip(c.query({ text: "SELECT no_such_column FROM (SELECT 1 AS a) s", params: [] }))
      expect(e.isRetryable).toBe(false)
      expect(e.reason).toMatchObject({ _tag: "Syntax", detail: "UndefinedColumn" })
      expect(e.message).toContain("SQLSTATE 42703")
    }))

  it.live("a backend killed with pg_terminate_backend is a retryable connection loss", () =>
    Effect.gen(function*() {
      const marker = `terminate_me_${Math.random().toString(36).slice(2)}`
      const c = yield* makePgConnector({ name: "errors", dsn: testDsn() })
      const terminator = Effect.promise(() =>
        withAdmin(async (admin) => {
          for (let i = 0; i < 100; i++) {
            const r = await admin.query(
              "SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE query LIKE $1 AND pid <> pg_backend_pid()",
              [`%${marker}%`]
            )
            if (r.rows.some((row) => row.killed === true)) return true
            await new Promise((resolve) => setTimeout(resolve, 50))
          }
          return false
        })
      )
      const [error, killed] = yield* Effect.all(
        [Effect.flip(c.query({ text: `SELECT pg_sleep(30) /* ${marker} */`, params: [] })), terminator],
        { concurrency: "unbounded" }
      )
      expect(killed).toBe(true)
      expect(error.isRetryable).toBe(true)
      expect(error.reason._tag).toBe("ConnectionLost")
      // The pool replaces the dead connection: the connector keeps working.
      const rows = yield* c.query({ text: "SELECT 1 AS one", params: [] })
      expect(rows).toEqual([{ one: 1n }])
    }))

  it.effect("an unreachable server fails at acquire with a retryable error and no DSN in the message", () =>
    Effect.gen(function*() {
      const dsn = Redacted.make("postgres://someone:topsecret@127.0.0.1:1/nowhere")
      const e = yield* Effect.flip(acquirePgPool({ dsn, connectTimeoutMs: 2_000 }))
      expect(e.isRetryable).toBe(true)
      expect(e.reason._tag).toBe("ConnectionLost")
      expect(e.message).not.toContain("topsecret")
    }))
})
