import { Effect } from "effect"
import type pg from "pg"
import { Reason } from "@polymath/engine"
import type { Row, SqlStatement } from "@polymath/engine"
import { pgFailure, serverMessage } from "./PgError.ts"
import type { PgError } from "./PgError.ts"
import { runQuery, runSingleStatement, withPoolClient } from "./PgPool.ts"

// The server's own words ("cannot execute DELETE in a read-only transaction") say what was refused.
const readOnlyError = (context: string) => (e: PgError): PgError => {
  if (e.sqlState !== "25006") return e
  const server = e.cause instanceof Error ? serverMessage(e.cause) : ""
  return pgFailure(
    new Reason.Unavailable({ detail: "ReadOnly" }),
    `${context}: the statement tried to write${server === "" ? "" : ` (${server})`}; verification checks must only read`,
    "25006"
  )
}

/**
 * Runs one statement in a READ ONLY transaction on its own client and rolls it back, so
 * a check can never change data, even through a data-modifying CTE or a function; the
 * extended protocol keeps a `COMMIT; ...` from ending the transaction early.
 */
export const readOnlyQuery = (pool: pg.Pool, label: string, statement: SqlStatement): Effect.Effect<ReadonlyArray<Row>, PgError> => {
  const context = `querying ${label}`
  return withPoolClient(
    pool,
    context,
    (client) =>
      Effect.gen(function*() {
        yield* runQuery(client, context, "BEGIN READ ONLY")
        const result = yield* Effect.mapError(runSingleStatement(client, context, statement.text, statement.params), readOnlyError(context))
        return result.rows as ReadonlyArray<Row>
      }),
    "ROLLBACK"
  )
}

