import { Effect } from "effect"
import type pg from "pg"
import type { VectorBatch, VectorTarget, VectorTargetInfo, WriteResult } from "@polymath/engine"
import { quoteIdent, quoteQualified } from "./Identifier.ts"
import { pgFailure } from "./PgError.ts"
import type { PgError } from "./PgError.ts"
import { runQuery } from "./PgPool.ts"
import { firstNonFinite, vectorText } from "./VectorText.ts"

/** What the database says about a vector target, looked up once per target. */
export interface ResolvedVectorTarget extends VectorTargetInfo {
  /** The table's name as Postgres prints it (`regclass::text`), for messages. */
  readonly table: string
  /** `format_type` of the key column, used to type the unnested id array. */
  readonly keyType: string
  /** `format_type` of the vector column (`vector(384)`), the cast applied to each vector. */
  readonly vectorType: string
}

const VECTOR_TYPES = new Set(["vector", "halfvec"])

const targetLabel = (target: VectorTarget): string => `vector target ${target.table}.${target.vector}`

interface AttributeRow {
  readonly name: string
  readonly type: string
  readonly typname: string
  readonly typmod: bigint
}

/**
 * Checks that the table, key, vector and `set` columns exist, and reads the vector
 * column's declared dimension from atttypmod (`vector(384)` → 384, untyped → null).
 */
export const resolveVectorTarget = (pool: pg.Pool, target: VectorTarget): Effect.Effect<ResolvedVectorTarget, PgError> =>
  Effect.gen(function*() {
    const context = `describing ${targetLabel(target)}`
    // to_regclass resolves the quoted name exactly as our UPDATE will (search_path included).
    const rel = yield* runQuery(pool, context, "SELECT to_regclass($1)::oid AS oid, to_regclass($1)::text AS name", [
      quoteQualified(target.table)
    ])
    const relRow = rel.rows[0] as { oid: number | null; name: string | null } | undefined
    if (relRow?.oid === null || relRow?.oid === undefined || relRow.name === null) {
      return yield* pgFailure("UndefinedTable", `${context}: table ${JSON.stringify(target.table)} does not exist`, "42P01")
    }
    const wanted = [target.key, target.vector, ...target.set.map((s) => s.column)]
    const attrs = yield* runQuery(
      pool,
      context,
      `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, t.typname AS typname, a.atttypmod AS typmod
         FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
        WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped AND a.attname = ANY($2::text[])`,
      [relRow.oid, wanted]
    )
    const byName = new Map((attrs.rows as Array<AttributeRow>).map((r) => [r.name, r]))
    const missing = [...new Set(wanted)].filter((c) => !byName.has(c))
    if (missing.length > 0) {
      return yield* pgFailure(
        "UndefinedColumn",
        `${context}: table ${relRow.name} has no column ${missing.map((c) => JSON.stringify(c)).join(", ")}`,
        "42703"
      )
    }
    const key = byName.get(target.key) as AttributeRow
    const vector = byName.get(target.vector) as AttributeRow
    if (!VECTOR_TYPES.has(vector.typname)) {
      return yield* pgFailure(
        "NotAVectorColumn",
        `${context}: column ${JSON.stringify(target.vector)} of ${relRow.name} has type ${vector.type}, not a pgvector vector`
      )
    }
    const typmod = Number(vector.typmod)
    return {
      table: relRow.name,
      keyType: key.type,
      vectorType: vector.type,
      dimensions: typmod > 0 ? typmod : null
    }
  })

const cacheKey = (target: VectorTarget): string =>
  JSON.stringify([target.table, target.key, target.vector, target.set.map((s) => s.column)])

/**
 * Writes vectors by target with one UPDATE … FROM unnest(ids, vectors) per batch.
 * Target lookups are cached per writer (that is, per connector), since the key type
 * is needed for every batch and does not change during a run.
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

  const write = (target: VectorTarget, batch: VectorBatch): Effect.Effect<WriteResult, PgError> =>
    Effect.gen(function*() {
      const size = batch.ids.length
      if (batch.vectors.length !== size) {
        return yield* pgFailure(
          "InvalidBatch",
          `writing ${targetLabel(target)}: batch has ${size} ids but ${batch.vectors.length} vectors`
        )
      }
      if (size === 0) return { written: 0, skipped: 0 }
      const info = yield* resolve(target)
      const texts = new Array<string>(size)
      for (let i = 0; i < size; i++) {
        const vector = batch.vectors[i] as Float32Array
        const bad = firstNonFinite(vector)
        if (bad >= 0) {
          return yield* pgFailure(
            "InvalidVector",
            `writing ${targetLabel(target)}: vector for id ${String(batch.ids[i])} has a non-finite value at index ${bad}`
          )
        }
        texts[i] = vectorText(vector)
      }
      const vec = quoteIdent(target.vector)
      // Constant columns are parameters $3.. so that no data value ever enters the SQL text.
      const sets = [`${vec} = v.vec::${info.vectorType}`, ...target.set.map((s, i) => `${quoteIdent(s.column)} = $${i + 3}`)]
      const text = `UPDATE ${quoteQualified(target.table)} AS t SET ${sets.join(", ")}
        FROM unnest($1::${info.keyType}[], $2::text[]) AS v(id, vec)
        WHERE t.${quoteIdent(target.key)} = v.id${target.force ? "" : ` AND t.${vec} IS NULL`}`
      const result = yield* runQuery(pool, `writing ${targetLabel(target)}`, text, [
        batch.ids,
        texts,
        ...target.set.map((s) => s.value)
      ])
      const written = result.rowCount ?? 0
      return { written, skipped: size - written }
    })

  return { describe, write }
}

/** The vector half of a SqlConnector: `describeVectorTarget` and `writeVectors`. */
export interface VectorWriter {
  readonly describe: (target: VectorTarget) => Effect.Effect<VectorTargetInfo, PgError>
  readonly write: (target: VectorTarget, batch: VectorBatch) => Effect.Effect<WriteResult, PgError>
}
