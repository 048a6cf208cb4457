/**
 * The three ways `bench vectors` writes the same precomputed vectors into `passages.embedding`:
 *
 *   seed    the seed plan's backfill (../shared/seeds/batch-v1-integration-plan.md, Task 1): for each
 *           row `UPDATE passages SET embedding = %s, embedding_model = ... WHERE passage_id = %s` and
 *           `conn.commit()`, i.e. BEGIN / UPDATE / COMMIT per row on one connection, as psycopg2 sends it
 *   hand    a hand-tuned script: one transaction, COPY (text format) into a temp table, one UPDATE FROM
 *   runner  the runner's own writer: libs/postgres's VectorStore (`writeVectors` of the SQL connector the
 *           engine gets), one call per page of the embed step's batch_size, as EmbedWork calls it,
 *           each one statement that also records the embed state row in polymath_etl.embeddings
 *
 * Each contender encodes its own vector text inside the clock (the runner's writer does) and opens its
 * own connection. A contender past its deadline stops between rows (seed) or pages (runner); the
 * hand-tuned script's single statement runs under statement_timeout = the cap.
 */
import { randomUUID } from "node:crypto"
import { Effect, Redacted } from "effect"
import type { VectorTarget } from "@polymath/engine"
import { makePgConnector, quoteIdent, quoteQualified, vectorText } from "@polymath/postgres"
import { openCopy } from "../fixtures/src/copyWriter.ts"
import { connect } from "../fixtures/src/pgClient.ts"

export const vectorContenders = ["seed", "hand", "runner"] as const
export type VectorContender = (typeof vectorContenders)[number]

export interface VectorWork {
  readonly dsn: string
  readonly target: VectorTarget
  readonly model: string
  readonly ids: ReadonlyArray<string>
  readonly vectors: ReadonlyArray<Float32Array>
  /** Rows per writeVectors call (the embed step's batch_size). */
  readonly pageSize: number
  /** performance.now() after which a contender stops. */
  readonly deadline: number
  readonly capS: number
}

export interface Written {
  readonly rows: number
  readonly capped: boolean
}

const seed = async (w: VectorWork): Promise<Written> => {
  const c = await connect(w.dsn)
  const sql = `UPDATE ${quoteQualified(w.target.table)} SET ${quoteIdent(w.target.vector)} = $1::vector, embedding_model = $2 WHERE ${quoteIdent(w.target.key)} = $3::uuid`
  let rows = 0
  try {
    for (let i = 0; i < w.ids.length; i++) {
      if (performance.now() > w.deadline) return { rows, capped: true }
      // psycopg2 opens a transaction before the first statement and the loop commits after each row.
      await c.query("BEGIN")
      await c.query(sql, [vectorText(w.vectors[i]!), w.model, w.ids[i]])
      await c.query("COMMIT")
      rows++
    }
    return { rows, capped: false }
  } finally {
    await c.end().catch(() => {})
  }
}

const hand = async (w: VectorWork): Promise<Written> => {
  const c = await connect(w.dsn)
  try {
    await c.query(`SET statement_timeout = ${Math.round(w.capS * 1000)}`)
    await c.query("BEGIN")
    await c.query("CREATE TEMP TABLE bench_vectors (id uuid, v text) ON COMMIT DROP")
    const copy = openCopy(c, "bench_vectors", ["id", "v"])
    for (let i = 0; i < w.ids.length; i++) {
      const wait = copy.pushEncoded(`${w.ids[i]}\t${vectorText(w.vectors[i]!)}\n`)
      if (wait) await wait
    }
    await copy.end()
    const r = await c.query(
      `UPDATE ${quoteQualified(w.target.table)} AS t SET ${quoteIdent(w.target.vector)} = b.v::vector, embedding_model = $1
         FROM bench_vectors AS b WHERE t.${quoteIdent(w.target.key)} = b.id`,
      [w.model]
    )
    await c.query("COMMIT")
    return { rows: r.rowCount ?? 0, capped: false }
  } catch (error) {
    await c.query("ROLLBACK").catch(() => {})
    if ((error as { code?: string }).code === "57014") return { rows: 0, capped: true }
    throw error
  } finally {
    await c.end().catch(() => {})
  }
}

const runner = (w: VectorWork): Promise<Written> =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const pg = yield* makePgConnector({ name: "bench", dsn: Redacted.make(w.dsn) })
    const runId = randomUUID()
    // A content hash per row, as the embed step records (its value does not change the write's cost).
    const hash = new Uint8Array(32).fill(7)
    let rows = 0
    for (let s = 0; s < w.ids.length; s += w.pageSize) {
      if (performance.now() > w.deadline) return { rows, capped: true }
      const ids = w.ids.slice(s, s + w.pageSize)
      rows += yield* pg.writeVectors(w.target, { ids, vectors: w.vectors.slice(s, s + w.pageSize), hashes: ids.map(() => hash), model: w.model, runId })
    }
    return { rows, capped: false }
  })))

export const writeWith: Record<VectorContender, (w: VectorWork) => Promise<Written>> = { seed, hand, runner }
