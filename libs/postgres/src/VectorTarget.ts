import { Effect } from "effect"
import type pg from "pg"
import { Reason } from "@polymath/engine"
import type { VectorTarget, VectorTargetInfo } from "@polymath/engine"
import { quoteQualified } from "./Identifier.ts"
import { pgFailure } from "./PgError.ts"
import type { PgError } from "./PgError.ts"
import { runQuery } from "./PgPool.ts"

/** What the database says about a vector target, looked up once per target. */
export interface ResolvedVectorTarget extends VectorTargetInfo {
  /** The table's name as Postgres prints it (`regclass::text`), for messages. */
  readonly table: string
  /** `format_type` of the key column, used to type the unnested id array. */
  readonly keyType: string
  /** `format_type` of the vector column (`vector(384)`), the cast applied to each vector. */
  readonly vectorType: string
  /** The target's name in `polymath_etl.embeddings`: the table as Postgres prints it, a dot, the vector column. */
  readonly stateTarget: string
}

const VECTOR_TYPES = new Set(["vector", "halfvec"])

/** `vector target table.column`, for messages. */
export const vectorTargetLabel = (target: VectorTarget): string => `vector target ${target.table}.${target.vector}`

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
    const context = `describing ${vectorTargetLabel(target)}`
    // to_regclass resolves the quoted name exactly as our UPDATE will (search_path included).
    const rel = yield* runQuery(pool, context, "SELECT to_regclass($1)::oid AS oid, to_regclass($1)::text AS name", [
      quoteQualified(target.table)
    ])
    const relRow = rel.rows[0] as { oid: number | null; name: string | null } | undefined
    if (relRow?.oid === null || relRow?.oid === undefined || relRow.name === null) {
      return yield* pgFailure(new Reason.Syntax({ detail: "UndefinedTable" }), `${context}: table ${JSON.stringify(target.table)} does not exist`, "42P01")
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
        new Reason.Syntax({ detail: "UndefinedColumn" }),
        `${context}: table ${relRow.name} has no column ${missing.map((c) => JSON.stringify(c)).join(", ")}`,
        "42703"
      )
    }
    const key = byName.get(target.key) as AttributeRow
    const vector = byName.get(target.vector) as AttributeRow
    if (!VECTOR_TYPES.has(vector.typname)) {
      return yield* pgFailure(
        new Reason.Unavailable({ detail: "NotAVectorColumn" }),
        `${context}: column ${JSON.stringify(target.vector)} of ${relRow.name} has type ${vector.type}, not a pgvector vector`
      )
    }
    const typmod = Number(vector.typmod)
    return {
      table: relRow.name,
      keyType: key.type,
      vectorType: vector.type,
      stateTarget: `${relRow.name}.${target.vector}`,
      dimensions: typmod > 0 ? typmod : null
    }
  })
