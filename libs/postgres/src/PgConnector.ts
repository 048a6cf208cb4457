import { Effect } from "effect"
import type pg from "pg"
import type { SqlConnector, SqlConnectorFactory } from "@polymath/engine"
import { storeFingerprint } from "./Fingerprint.ts"
import { keysetPages } from "./KeysetPages.ts"
import { acquirePgPool } from "./PgPool.ts"
import { readOnlyQuery } from "./ReadOnlyQuery.ts"
import { makePgRunLedger } from "./RunLedger.ts"
import { describeStatement } from "./Source.ts"
import { rowsMatching } from "./SourceFilter.ts"
import { countSource, cursorMax, duplicateKeys, nullKeys } from "./SourceChecks.ts"
import { splitPoints } from "./SourceSplit.ts"
import { ensureVectorIndex, vectorIndexState } from "./VectorIndex.ts"
import { nearest } from "./VectorSearch.ts"
import { makeVectorWriter } from "./VectorWriter.ts"

/** Builds a SqlConnector over an already open pool (the pool's lifetime is the caller's). */
export const pgConnectorFromPool = (name: string, pool: pg.Pool): SqlConnector => {
  const vectors = makeVectorWriter(pool)
  const label = `connection ${JSON.stringify(name)}`
  return {
    name,
    describe: (statement) => describeStatement(pool, label, statement),
    count: (source) => countSource(pool, source),
    nullKeys: (source, limit) => nullKeys(pool, source, limit),
    duplicateKeys: (source, limit) => duplicateKeys(pool, source, limit),
    cursorMax: (source) => cursorMax(pool, source),
    splitPoints: (source, parts) => splitPoints(pool, source, parts),
    pages: (source, after) => keysetPages(pool, source, after),
    query: (statement) => readOnlyQuery(pool, label, statement),
    rowsMatching: (statement, columns, tuples) => rowsMatching(pool, label, statement, columns, tuples),
    describeVectorTarget: vectors.describe,
    embedStatus: vectors.status,
    writeVectors: vectors.write,
    clearVectors: vectors.clear,
    vectorIndex: (target) => vectorIndexState(pool, target),
    ensureVectorIndex: (target) => ensureVectorIndex(pool, target),
    nearest: (request) => nearest(pool, request),
    fingerprint: (targets) => storeFingerprint(pool, targets),
    ledger: makePgRunLedger(pool)
  }
}

/**
 * The engine's SqlConnectorFactory for Postgres: opens a pool (checked with `SELECT 1`)
 * that the scope ends, and serves reads, vector writes and the run ledger from it.
 */
export const makePgConnector: SqlConnectorFactory = (options) =>
  Effect.map(
    // Each unit's read holds a connection for its whole pass, and an embed and a graph step read
    // side by side while the pipeline lock, checkpoints, vector writes and seen records need theirs.
    acquirePgPool({ dsn: options.dsn, applicationName: `polymath-etl:${options.name}`, max: 8 }),
    (pool) => pgConnectorFromPool(options.name, pool)
  )
