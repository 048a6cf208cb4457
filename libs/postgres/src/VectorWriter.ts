import { Effect } from "effect"
import type pg from "pg"
import { Reason } from "@polymath/engine"
import type { EmbedStatus, Value, VectorBatch, VectorTarget, VectorTargetInfo } from "@polymath/engine"
import { quoteIdent, quoteQualified } from "./Identifier.ts"
import { ensureLedgerSchema, ledgerSchemaReady } from "./LedgerSchema.ts"
import { pgFailure } from "./PgError.ts"
import type { PgError } from "./PgError.ts"
import { bytea, runQuery } from "./PgPool.ts"
import { firstNonFinite, vectorText } from "./VectorText.ts"
import { resolveVectorTarget, vectorTargetLabel } from "./VectorTarget.ts"
import type { ResolvedVectorTarget } from "./VectorTarget.ts"

const cacheKey = (target: VectorTarget): string =>
  JSON.stringify([target.table, target.key, target.vector, target.set.map((s) => s.column)])

/**
 * The vector half of a SqlConnector. The embed state (which text and model each stored
 * vector was made from) lives in `polymath_etl.embeddings`, keyed by target and the id
 * rendered as text, so the user's tables gain no columns. Target lookups are cached per
 * writer (that is, per connector): the key type is needed for every batch and does not
 * change during a run.
 */
export const makeVectorWriter = (pool: pg.Pool): VectorWriter => {
  const cache = new Map<string, ResolvedVectorTarget>()

  const resolve = (target: VectorTarget): Effect.Effect<ResolvedVectorTarget, PgError> => {
    const key = cacheKey(target)
    const hit = cache.get(key)
    return hit !== undefined
      ? Effect.succeed(hit)
      : Effect.tap(resolveVectorTarget(pool, target), (info) => Effect.sync(() => cache.set(key, info)))
  }

  const describe = (target: VectorTarget): Effect.Effect<VectorTargetInfo, PgError> =>
    Effect.map(resolve(target), (info) => ({ dimensions: info.dimensions }))

  // Aggregated per item, since nothing makes the target's key column unique: any matching
  // row without a vector makes the item "new", and "fresh" needs the recorded hash and model.
  const status = (
    target: VectorTarget,
    model: string,
    items: ReadonlyArray<{ readonly id: Value; readonly hash: Uint8Array }>
  ): Effect.Effect<ReadonlyArray<EmbedStatus>, PgError> =>
    Effect.gen(function*() {
      if (items.length === 0) return []
      const info = yield* resolve(target)
      // Without a ledger yet (a dry run before any run) nothing was recorded: no vector is fresh.
      const state = (yield* ledgerSchemaReady(pool))
        ? "polymath_etl.embeddings"
        : "(SELECT NULL::text AS target, NULL::text AS key, NULL::text AS model, NULL::bytea AS text_hash WHERE false)"
      const key = quoteIdent(target.key)
      const result = yield* runQuery(
        pool,
        `reading the embed state of ${vectorTargetLabel(target)}`,
        `SELECT CASE
                  WHEN count(t.${key}) = 0 THEN 'missing'
                  WHEN bool_or(t.${quoteIdent(target.vector)} IS NULL) THEN 'new'
                  WHEN bool_or(e.model = $4::text AND e.text_hash = i.hash) THEN 'fresh'
                  ELSE 'stale'
                END AS status
           FROM unnest($1::${info.keyType}[], $2::bytea[]) WITH ORDINALITY AS i(id, hash, ord)
           LEFT JOIN ${quoteQualified(target.table)} AS t ON t.${key} = i.id
           LEFT JOIN ${state} AS e ON e.target = $3::text AND e.key = i.id::text
          GROUP BY i.ord
          ORDER BY i.ord`,
        [items.map((it) => it.id), items.map((it) => bytea(it.hash)), info.stateTarget, model]
      )
      return (result.rows as Array<{ status: EmbedStatus }>).map((r) => r.status)
    })

  const write = (target: VectorTarget, batch: VectorBatch): Effect.Effect<number, PgError> =>
    Effect.gen(function*() {
      const size = batch.ids.length
      if (batch.vectors.length !== size || batch.hashes.length !== size) {
        return yield* pgFailure(
          new Reason.BadData({ detail: "InvalidBatch" }),
          `writing ${vectorTargetLabel(target)}: batch has ${size} ids but ${batch.vectors.length} vectors and ${batch.hashes.length} hashes`
        )
      }
      if (size === 0) return 0
      const info = yield* resolve(target)
      const texts = new Array<string>(size)
      for (let i = 0; i < size; i++) {
        const vector = batch.vectors[i] as Float32Array
        const bad = firstNonFinite(vector)
        if (bad >= 0) {
          return yield* pgFailure(
            new Reason.BadData({ detail: "InvalidVector" }),
            `writing ${vectorTargetLabel(target)}: vector for id ${String(batch.ids[i])} has a non-finite value at index ${bad}`
          )
        }
        texts[i] = vectorText(vector)
      }
      yield* ensureLedgerSchema(pool)
      const key = quoteIdent(target.key)
      // Constant columns are parameters $7.. so that no data value ever enters the SQL text.
      const sets = [`${quoteIdent(target.vector)} = b.vec::${info.vectorType}`, ...target.set.map((s, i) => `${quoteIdent(s.column)} = $${i + 7}`)]
      // One statement, so a vector and the record of what it was made from commit together.
      // DISTINCT ON: a key matching several target rows returns once per row, and one
      // INSERT ... ON CONFLICT may not touch the same state row twice.
      const result = yield* runQuery(
        pool,
        `writing ${vectorTargetLabel(target)}`,
        `WITH b AS (
           SELECT * FROM unnest($1::${info.keyType}[], $2::text[], $3::bytea[]) AS b(id, vec, hash)
         ), written AS (
           UPDATE ${quoteQualified(target.table)} AS t SET ${sets.join(", ")}
             FROM b WHERE t.${key} = b.id
           RETURNING b.id, b.hash
         ), state AS (
           INSERT INTO polymath_etl.embeddings AS e (target, key, model, text_hash, run_id, embedded_at)
           SELECT DISTINCT ON (w.id) $4::text, w.id::text, $5::text, w.hash, $6::uuid, now() FROM written AS w
           ON CONFLICT (target, key) DO UPDATE SET
             model = EXCLUDED.model, text_hash = EXCLUDED.text_hash, run_id = EXCLUDED.run_id, embedded_at = EXCLUDED.embedded_at
         )
         SELECT count(*) AS n FROM written`,
        [batch.ids, texts, batch.hashes.map(bytea), info.stateTarget, batch.model, batch.runId, ...target.set.map((s) => s.value)]
      )
      return Number((result.rows[0] as { n: bigint }).n)
    })

  // A vector made from a text that is gone would still be found by search: it goes, with its record.
  const clear = (target: VectorTarget, ids: ReadonlyArray<Value>): Effect.Effect<ReadonlyArray<number>, PgError> =>
    Effect.gen(function*() {
      if (ids.length === 0) return []
      const info = yield* resolve(target)
      yield* ensureLedgerSchema(pool)
      const key = quoteIdent(target.key)
      const vec = quoteIdent(target.vector)
      const result = yield* runQuery(
        pool,
        `removing vectors of ${vectorTargetLabel(target)}`,
        `WITH cleared AS (
           UPDATE ${quoteQualified(target.table)} AS t SET ${vec} = NULL
             FROM unnest($1::${info.keyType}[]) WITH ORDINALITY AS b(id, ord)
            WHERE t.${key} = b.id AND t.${vec} IS NOT NULL
           RETURNING b.id, b.ord
         ), forgotten AS (
           DELETE FROM polymath_etl.embeddings AS e WHERE e.target = $2::text AND e.key = ANY(SELECT id::text FROM cleared)
         )
         SELECT DISTINCT ord - 1 AS i FROM cleared ORDER BY 1`,
        [ids, info.stateTarget]
      )
      return (result.rows as Array<{ i: bigint }>).map((r) => Number(r.i))
    })

  return { describe, status, write, clear }
}

/** The vector half of a SqlConnector: `describeVectorTarget`, `embedStatus` and `writeVectors`. */
export interface VectorWriter {
  readonly describe: (target: VectorTarget) => Effect.Effect<VectorTargetInfo, PgError>
  readonly status: (
    target: VectorTarget,
    model: string,
    items: ReadonlyArray<{ readonly id: Value; readonly hash: Uint8Array }>
  ) => Effect.Effect<ReadonlyArray<EmbedStatus>, PgError>
  readonly write: (target: VectorTarget, batch: VectorBatch) => Effect.Effect<number, PgError>
  readonly clear: (target: VectorTarget, ids: ReadonlyArray<Value>) => Effect.Effect<ReadonlyArray<number>, PgError>
}
