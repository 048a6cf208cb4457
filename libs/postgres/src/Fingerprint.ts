import { Effect } from "effect"
import type pg from "pg"
import type { VectorTarget } from "@polymath/engine"
import { quoteQualified } from "./Identifier.ts"
import type { PgError } from "./PgError.ts"
import { runQuery } from "./PgPool.ts"

/**
 * What this database is, so that a checkpoint is trusted only against the same data:
 * `pg:<system identifier>:<database oid>:<table>=<oid>,...`. A restored or re-initialised
 * cluster has a new system identifier, a recreated database or table a new oid. Roles
 * that may not call pg_control_system() get `?` for the cluster (oids still count).
 */
export const storeFingerprint = (pool: pg.Pool, targets: ReadonlyArray<VectorTarget>): Effect.Effect<string, PgError> =>
  Effect.gen(function*() {
    const context = "fingerprinting the Postgres database"
    const system = yield* runQuery(pool, context, "SELECT system_identifier::text AS id FROM pg_control_system()").pipe(
      Effect.map((r) => (r.rows[0] as { id: string | null } | undefined)?.id ?? "?"),
      Effect.catchIf((e) => e.sqlState === "42501", () => Effect.succeed("?"))
    )
    const tables = [...new Set(targets.map((t) => t.table))].sort()
    const r = yield* runQuery(
      pool,
      context,
      `SELECT (SELECT oid::text FROM pg_database WHERE datname = current_database()) AS db,
              ARRAY(SELECT coalesce(to_regclass(t.name)::oid::text, 'none')
                      FROM unnest($1::text[]) WITH ORDINALITY AS t(name, ord) ORDER BY t.ord) AS oids`,
      [tables.map(quoteQualified)]
    )
    const row = r.rows[0] as { db: string; oids: Array<string> }
    const parts = ["pg", system, row.db]
    if (tables.length > 0) parts.push(tables.map((t, i) => `${t}=${row.oids[i] ?? "none"}`).join(","))
    return parts.join(":")
  })
