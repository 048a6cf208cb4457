import { Redacted } from "effect"
import { error, warning } from "../Diagnostic.ts"
import { keyColumns } from "../Mapping.ts"
import type { Checker } from "./Checker.ts"
import { ledgerConnection } from "./Topology.ts"

const sslModes = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full", "no-verify"]
const neo4jSchemes = ["bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc"]

/** A value `validate` could not know: an unset `${env.X}` stands in as `<X>`. */
const isPlaceholder = (v: string): boolean => /^<[A-Za-z_][A-Za-z0-9_]*>$/.test(v)

/**
 * What is wrong with a Postgres DSN that can be told without connecting, or null. Only the
 * scheme and sslmode are ever named: the rest of a DSN may hold a password.
 */
const dsnProblem = (dsn: string): string | null => {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(dsn)?.[1]
  let sslmode: string | null | undefined
  if (scheme !== undefined) {
    if (scheme !== "postgres" && scheme !== "postgresql") return `must be a postgres:// or postgresql:// URL, not ${scheme}://`
    const query = dsn.indexOf("?")
    sslmode = query === -1 ? null : new URLSearchParams(dsn.slice(query + 1)).get("sslmode")
  } else {
    sslmode = /(?:^|\s)sslmode\s*=\s*'?([^\s']*)/.exec(dsn)?.[1]
  }
  if (sslmode === null || sslmode === undefined || sslModes.includes(sslmode)) return null
  const shown = /^[A-Za-z0-9_-]{1,20}$/.test(sslmode) ? `sslmode=${sslmode}` : "an sslmode"
  return `has ${shown}, which is not one of ${sslModes.join(", ")}`
}

/** Connections: each is exactly one kind, with a DSN or URI a driver takes; a postgres one holds the run ledger. */
export const lintConnections = (c: Checker): void => {
  const { spec, out, at } = c
  for (const [name, conn] of Object.entries(spec.connections)) {
    const n = (conn.postgres ? 1 : 0) + (conn.neo4j ? 1 : 0)
    if (n !== 1) out.push(error(at(["connections", name], "key"), `connection '${name}' must have exactly one of postgres or neo4j`))
    // Undecoded (lint of a file the schema rejected), the DSN is still a plain string.
    const raw: unknown = conn.postgres?.dsn
    const plain: unknown = Redacted.isRedacted(raw) ? Redacted.value(raw) : raw
    const dsn = typeof plain === "string" ? plain : null
    const dsnWrong = dsn === null || isPlaceholder(dsn) ? null : dsnProblem(dsn)
    if (dsnWrong) out.push(error(at(["connections", name, "postgres", "dsn"]), `the DSN of connection '${name}' ${dsnWrong}`, "e.g. postgres://user@host:5432/db?sslmode=require"))
    const uri: unknown = conn.neo4j?.uri
    if (typeof uri === "string" && !isPlaceholder(uri)) {
      const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(uri)?.[1]
      if (scheme !== undefined && !neo4jSchemes.includes(scheme.toLowerCase())) {
        out.push(error(at(["connections", name, "neo4j", "uri"]), `the URI of connection '${name}' must start with one of ${neo4jSchemes.map((s) => `${s}://`).join(", ")}, not ${scheme}://`, "e.g. neo4j://localhost:7687"))
      }
    }
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
