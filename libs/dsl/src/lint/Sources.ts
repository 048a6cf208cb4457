import { error, warning } from "../Diagnostic.ts"
import { keyColumns } from "../Mapping.ts"
import type { Checker } from "./Checker.ts"
import { ledgerConnection } from "./Topology.ts"

/** Connections: each is exactly one kind; a postgres one holds the run ledger. */
export const lintConnections = (c: Checker): void => {
  const { spec, out, at } = c
  for (const [name, conn] of Object.entries(spec.connections)) {
    const n = (conn.postgres ? 1 : 0) + (conn.neo4j ? 1 : 0)
    if (n !== 1) out.push(error(at(["connections", name], "key"), `connection '${name}' must have exactly one of postgres or neo4j`))
  }
  if (ledgerConnection(spec) === null) {
    out.push(error(at(["connections"], "key"), "no postgres connection for the run ledger", "declare a postgres connection (the ledger records runs and checkpoints there)"))
  } else if (spec.ledger) c.requireConnection(spec.ledger.connection, "postgres", ["ledger", "connection"])
}

/** A source's contract: a postgres query whose params exist and whose result holds its key and cursor. */
export const lintSources = (c: Checker): void => {
  const { spec, out, at } = c
  for (const [name, source] of Object.entries(spec.sources)) {
    c.requireConnection(source.connection, "postgres", ["sources", name, "connection"])
    c.requireSqlParams(source.sql, ["sources", name, "sql"])
    if (source.sql.trim() === "") out.push(error(at(["sources", name, "sql"]), `source '${name}' has an empty query`))
    for (const k of keyColumns(source.key)) c.requireColumn(name, k, ["sources", name, "key"], "its key")
    if (source.incremental) c.requireColumn(name, source.incremental.cursor, ["sources", name, "incremental", "cursor"], "its incremental cursor")
  }
}

/** Run after every rule that reads sources. */
export const lintUnusedSources = (c: Checker): void => {
  for (const name of Object.keys(c.spec.sources)) {
    if (!c.usedSources.has(name)) c.out.push(warning(c.at(["sources", name], "key"), `source '${name}' is not used by any step or check`))
  }
}
