import { createHash } from "node:crypto"
import { Effect } from "effect"
import type pg from "pg"
import { Reason } from "@polymath/engine"
import type { VectorIndex, VectorIndexState, VectorTarget } from "@polymath/engine"
import { quoteIdent, quoteQualified } from "./Identifier.ts"
import { pgFailure } from "./PgError.ts"
import type { PgError } from "./PgError.ts"
import { runQuery } from "./PgPool.ts"
import { resolveVectorTarget, vectorTargetLabel } from "./VectorTarget.ts"

const opsSuffix = { cosine: "cosine_ops", l2: "l2_ops", inner_product: "ip_ops" } as const

/** Postgres truncates names to 63 bytes; a long one keeps a readable head and a hash tail so two never collide. */
const fitName = (name: string): string =>
  Buffer.byteLength(name) <= 63 ? name : `${Buffer.from(name).subarray(0, 50).toString().replace(/\uFFFD+$/, "")}_${createHash("sha256").update(name).digest("hex").slice(0, 12)}`

/** The index's name: derived from what it indexes, so a changed method or metric is another index. */
export const vectorIndexName = (target: VectorTarget, index: VectorIndex): string => {
  const table = target.table.split(".").pop()!
  return fitName(`${table}_${target.vector}_${index.method}_${index.metric}_idx`)
}

const declared = (target: VectorTarget): VectorIndex => {
  if (target.index === undefined) throw new Error(`${vectorTargetLabel(target)} declares no index`)
  return target.index
}

/** `CREATE INDEX CONCURRENTLY IF NOT EXISTS ... USING hnsw (col vector_cosine_ops) WITH (m = 16)`; halfvec columns get halfvec operator classes. */
const createStatement = (target: VectorTarget, index: VectorIndex, vectorType: string): string => {
  const family = vectorType.startsWith("halfvec") ? "halfvec" : "vector"
  const options = index.options.length === 0 ? "" : ` WITH (${index.options.map((o) => `${o.name} = ${Math.trunc(o.value)}`).join(", ")})`
  return `CREATE INDEX CONCURRENTLY IF NOT EXISTS ${quoteIdent(vectorIndexName(target, index))} ON ${quoteQualified(target.table)} USING ${index.method} (${quoteIdent(target.vector)} ${family}_${opsSuffix[index.metric]})${options}`
}

/**
 * Whether a definition from pg_get_indexdef is the declared one: method, operator class
 * and every given option. pg_get_indexdef leaves out a default operator class, and
 * pgvector's default is the L2 one.
 */
const matches = (definition: string, index: VectorIndex): boolean => {
  const d = definition.toLowerCase().replaceAll("'", "")
  const ops = d.includes(opsSuffix[index.metric]) || (index.metric === "l2" && !/_ops\b/.test(d))
  return d.includes(`using ${index.method} `) && ops &&
    index.options.every((o) => new RegExp(`\\b${o.name}\\s*=\\s*${Math.trunc(o.value)}\\b`).test(d))
}

/** The state of the declared index on the target. */
export const vectorIndexState = (pool: pg.Pool, target: VectorTarget): Effect.Effect<VectorIndexState & { readonly qualified?: string }, PgError> =>
  Effect.gen(function*() {
    const index = declared(target)
    const name = vectorIndexName(target, index)
    const found = yield* runQuery(
      pool,
      `looking up index ${name}`,
      `SELECT i.indisvalid AS valid, pg_get_indexdef(i.indexrelid) AS definition, i.indexrelid::regclass::text AS qualified
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE i.indrelid = to_regclass($1) AND c.relname = $2`,
      [quoteQualified(target.table), name]
    )
    const row = found.rows[0] as { valid: boolean; definition: string; qualified: string } | undefined
    if (row === undefined) return { name, state: "missing", definition: null }
    if (!matches(row.definition, index)) return { name, state: "different", definition: row.definition }
    return { name, state: row.valid ? "valid" : "invalid", definition: row.definition, qualified: row.qualified }
  })

/** Creates the declared index unless it is there as declared (see the engine's VectorStore.ensureVectorIndex). */
export const ensureVectorIndex = (pool: pg.Pool, target: VectorTarget): Effect.Effect<{ readonly name: string; readonly created: boolean }, PgError> =>
  Effect.gen(function*() {
    const index = declared(target)
    const resolved = yield* resolveVectorTarget(pool, target)
    const state = yield* vectorIndexState(pool, target)
    if (state.state === "valid") return { name: state.name, created: false }
    if (state.state === "different") {
      return yield* pgFailure(
        new Reason.Unavailable({ detail: "IndexDiffers" }),
        `${vectorTargetLabel(target)}: an index named ${state.name} exists with another definition (${state.definition}); drop it to let the run build the declared one`
      )
    }
    const context = `building ${index.method} index ${state.name} on ${resolved.table}.${target.vector}`
    // A concurrent build that died leaves an INVALID index that IF NOT EXISTS would keep forever.
    // regclass::text is the index's name as Postgres prints it: schema-qualified and quoted where needed.
    if (state.state === "invalid") yield* runQuery(pool, context, `DROP INDEX CONCURRENTLY IF EXISTS ${state.qualified}`)
    yield* runQuery(pool, context, createStatement(target, index, resolved.vectorType))
    return { name: state.name, created: true }
  })
