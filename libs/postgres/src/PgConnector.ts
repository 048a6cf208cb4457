import { Effect } from "effect"
import type pg from "pg"
import type { Row, SqlConnector, SqlConnectorFactory } from "@polymath/engine"
import { keysetPages } from "./KeysetPages.ts"
import { acquirePgPool, runQuery } from "./PgPool.ts"
import { makePgRunLedger } from "./RunLedger.ts"
import { asSubquery } from "./Statement.ts"
import { makeVectorWriter } from "./VectorWriter.ts"

/** Builds a SqlConnector over an already open pool (the pool's lifetime is the caller's). */
export const pgConnectorFromPool = (name: string, pool: pg.Pool): SqlConnector => {
  const vectors = makeVectorWriter(pool)
  const label = `connection ${JSON.stringify(name)}`
  return {
    name,
    count: (statement) =>
      Effect.map(
        runQuery(pool, `counting rows on ${label}`, `SELECT count(*) AS n FROM ${asSubquery(statement)}`, statement.params),
        (r) => Number((r.rows[0] as { n: bigint }).n)
      ),
    pages: (source, after) => keysetPages(pool, source, after),
    query: (statement) =>
      Effect.map(
        runQuery(pool, `querying ${label}`, statement.text, statement.params),
        (r) => r.rows as ReadonlyArray<Row>
      ),
    describeVectorTarget: vectors.describe,
    writeVectors: vectors.write,
    ledger: makePgRunLedger(pool)
  }
}

/**
 * The engine's SqlConnectorFactory for Postgres: opens a pool (checked with `SELECT 1`)
 * that the scope ends, and serves reads, vector writes and the run ledger from it.
 */
export const makePgConnector: SqlConnectorFactory = (options) =>
  Effect.map(
    acquirePgPool({ dsn: options.dsn, applicationName: `polymath-etl:${options.name}`, max: 5 }),
    (pool) => pgConnectorFromPool(options.name, pool)
  )
