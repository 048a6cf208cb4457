import { Effect } from "effect"
import type pg from "pg"
import type { Row, SqlStatement, Value } from "@polymath/engine"
import { quoteIdent } from "./Identifier.ts"
import type { PgError } from "./PgError.ts"
import { readOnlyQuery } from "./ReadOnlyQuery.ts"
import { asSubquery } from "./Statement.ts"

/** Tuples per statement: a frontier of thousands of nodes stays far below the 65,535 parameters a statement may bind. */
export const tuplesPerStatement = 500

/**
 * The rows of a source statement whose `columns` equal one of `tuples`, in read-only
 * transactions: the statement runs as a subquery, its own parameters first, each tuple's
 * values after them as parameters (the server types them from the columns).
 */
export const rowsMatching = (
  pool: pg.Pool,
  label: string,
  statement: SqlStatement,
  columns: ReadonlyArray<string>,
  tuples: ReadonlyArray<ReadonlyArray<Value>>
): Effect.Effect<ReadonlyArray<Row>, PgError> =>
  Effect.gen(function*() {
    if (columns.length === 0 || tuples.length === 0) return []
    const cols = columns.map((c) => `src.${quoteIdent(c)}`)
    const out: Array<Row> = []
    for (let i = 0; i < tuples.length; i += tuplesPerStatement) {
      const chunk = tuples.slice(i, i + tuplesPerStatement)
      const params: Array<Value> = [...statement.params]
      const alternatives = chunk.map((tuple) =>
        `(${cols.map((c, j) => {
          params.push(tuple[j] ?? null)
          return `${c} = $${params.length}`
        }).join(" AND ")})`
      )
      const text = `SELECT * FROM ${asSubquery(statement)} WHERE ${alternatives.join(" OR ")}`
      out.push(...(yield* readOnlyQuery(pool, label, { text, params })))
    }
    return out
  })
