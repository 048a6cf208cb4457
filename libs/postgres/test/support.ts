/**
 * Test support: a real Postgres from POSTGRES_DSN (set by `npm run stack -- env` or the
 * vitest global setup) and a scratch schema per test file, so tests never touch the
 * fixture tables or each other.
 */
import { Redacted } from "effect"
import pg from "pg"

/** The DSN of the test database; fails loudly (without printing it) when unset. */
export const testDsn = (): Redacted.Redacted<string> => {
  const dsn = process.env["POSTGRES_DSN"]
  if (dsn === undefined || dsn === "") {
    throw new Error("POSTGRES_DSN is not set: run `eval \"$(npm run -s stack -- env)\"` after `npm run stack -- up`")
  }
  return Redacted.make(dsn)
}

/** A fresh random suffix for schema and pipeline names. */
export const randomSuffix = (): string => Math.random().toString(36).slice(2, 10)

/** Runs `f` with a plain client (outside the code under test) and always closes it. */
export const withAdmin = async <A>(f: (client: pg.Client) => Promise<A>): Promise<A> => {
  const client = new pg.Client({ connectionString: Redacted.value(testDsn()) })
  client.on("error", () => {})
  await client.connect()
  try {
    return await f(client)
  } finally {
    await client.end().catch(() => {})
  }
}

/** Creates `test_pg_<random>` and returns its name; drop it with `dropScratchSchema`. */
export const createScratchSchema = async (label: string): Promise<string> => {
  const schema = `test_pg_${label}_${randomSuffix()}`
  await withAdmin((c) => c.query(`CREATE SCHEMA "${schema}"`))
  return schema
}

/** Drops a scratch schema and everything in it. */
export const dropScratchSchema = async (schema: string): Promise<void> => {
  await withAdmin((c) => c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`))
}

/** Ensures pgvector is installed; concurrent test files may race, so the DDL is serialised. */
export const ensureVectorExtension = async (): Promise<void> => {
  await withAdmin((c) =>
    c.query("SELECT pg_advisory_xact_lock(hashtext('polymath_etl.test.vector')); CREATE EXTENSION IF NOT EXISTS vector")
  )
}
