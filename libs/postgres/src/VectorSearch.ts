import { Effect } from "effect"
import type pg from "pg"
import type { NearestRequest, NearestRow, Value } from "@polymath/engine"
import { quoteIdent, quoteQualified } from "./Identifier.ts"
import type { PgError } from "./PgError.ts"
import { runQuery, withPoolClient } from "./PgPool.ts"
import { resolveVectorTarget, vectorTargetLabel } from "./VectorTarget.ts"
import { vectorText } from "./VectorText.ts"

/** pgvector's distance operator for each metric (`<#>` is the negative inner product). */
const operator = { cosine: "<=>", l2: "<->", inner_product: "<#>" } as const

/** Candidates an HNSW scan keeps (pgvector's `hnsw.ef_search`, 1-1000): at least `k`, or it cannot return `k` rows. */
const efSearch = (k: number): number => Math.min(1000, Math.max(40, k * 2))

/** IVFFlat lists probed: pgvector's advice is about the square root of the lists. */
const probes = (request: NearestRequest): number => {
  const lists = request.target.index?.options.find((o) => o.name === "lists")?.value ?? 100
  return Math.max(1, Math.round(Math.sqrt(lists)))
}

/**
 * The rows a step wrote carry its `set` constants (e.g. `embedding_model`): only they are
 * searched, since a vector another model made is not comparable with the query's.
 */
const writtenBy = (request: NearestRequest) =>
  request.target.set.filter((s) => s.value !== null).map((s) => ({ column: s.column, value: String(s.value) }))

/**
 * The kNN statement. Without keys, it is `ORDER BY vec <=> $1 LIMIT k`, which the declared
 * index answers (unless `exact`); filters are applied by pgvector's iterative index scan (set
 * in the transaction), so a filter that drops candidates does not leave fewer than `k`.
 */
const statement = (request: NearestRequest, keyType: string, vectorType: string) => {
  const t = request.target
  const op = operator[request.metric]
  const params: Array<unknown> = [vectorText(request.vector), request.k]
  const where = [`t.${quoteIdent(t.vector)} IS NOT NULL`]
  if (request.keys !== null) {
    params.push(request.keys)
    where.push(`t.${quoteIdent(t.key)} = ANY($${params.length}::${keyType}[])`)
  }
  for (const f of [...writtenBy(request), ...request.filters]) {
    params.push(f.value)
    where.push(`t.${quoteIdent(f.column)}::text = $${params.length}`)
  }
  const columns = request.columns.map((c, i) => `t.${quoteIdent(c)} AS ${quoteIdent(`c${i}`)}`)
  const select = [`t.${quoteIdent(t.key)}::text AS key`, ...columns].join(", ")
  const query = `$1::${vectorType.replace(/\(.*$/, "")}`
  // Keys narrow the rows to a few: those are materialized (their key index finds them) and
  // ordered exactly. `exact` alone is the same ORDER BY with index scans turned off (see
  // `nearest`): a sequential scan keeps the k nearest in a bounded heap, never every row.
  const text = request.keys !== null
    ? `WITH candidates AS MATERIALIZED (SELECT ${select}, t.${quoteIdent(t.vector)} AS v FROM ${quoteQualified(t.table)} t WHERE ${where.join(" AND ")})
       SELECT *, (v ${op} ${query})::float8 AS distance FROM candidates ORDER BY v ${op} ${query} LIMIT $2`
    : `SELECT * FROM (SELECT ${select}, (t.${quoteIdent(t.vector)} ${op} ${query})::float8 AS distance FROM ${quoteQualified(t.table)} t
        WHERE ${where.join(" AND ")} ORDER BY t.${quoteIdent(t.vector)} ${op} ${query} LIMIT $2) hits ORDER BY distance`
  return { text, params }
}

/**
 * The `k` rows nearest to the request's vector, in a read-only transaction whose search
 * settings (HNSW candidates, IVFFlat probes) are local to it. The target's table, key,
 * vector and requested columns are checked first, so a wrong name is named.
 */
export const nearest = (pool: pg.Pool, request: NearestRequest): Effect.Effect<ReadonlyArray<NearestRow>, PgError> =>
  Effect.gen(function*() {
    const extra = [...new Set([...request.columns, ...request.filters.map((f) => f.column)])]
    const resolved = yield* resolveVectorTarget(pool, { ...request.target, set: extra.map((column) => ({ column, value: null })) })
    const { text, params } = statement(request, resolved.keyType, resolved.vectorType)
    const context = `searching ${vectorTargetLabel(request.target)}`
    const rows = yield* withPoolClient(
      pool,
      context,
      (client) =>
        Effect.gen(function*() {
          yield* runQuery(client, context, "BEGIN READ ONLY")
          yield* runQuery(client, context, `SET LOCAL hnsw.ef_search = ${efSearch(request.k)}`)
          yield* runQuery(client, context, `SET LOCAL ivfflat.probes = ${probes(request)}`)
          // pgvector >= 0.8: an index scan whose candidates a filter drops goes on scanning (IVFFlat only in relaxed order; the outer ORDER BY restores it).
          yield* runQuery(client, context, "SET LOCAL hnsw.iterative_scan = strict_order")
          yield* runQuery(client, context, "SET LOCAL ivfflat.iterative_scan = relaxed_order")
          if (request.exact) yield* runQuery(client, context, "SET LOCAL enable_indexscan = off")
          return (yield* runQuery(client, context, text, params)).rows as ReadonlyArray<Record<string, Value>>
        }),
      "ROLLBACK"
    )
    return rows.map((r) => ({
      key: String(r["key"]),
      distance: Number(r["distance"]),
      columns: Object.fromEntries(request.columns.map((c, i) => [c, r[`c${i}`] ?? null]))
    }))
  })
