import { error, suggest } from "../Diagnostic.ts"
import type { Path } from "../Located.ts"
import { cypherParams } from "../QueryParams.ts"
import type { Checker } from "./Checker.ts"
import { checkConnection } from "./Topology.ts"

/** Verify checks: unique names, one query on a connection of its kind, known params, at least one bound. */
export const lintChecks = (c: Checker): void => {
  const { spec, ctx, out, at } = c
  const checkNames = new Set<string>()
  for (const [i, check] of (spec.verify ?? []).entries()) {
    const p: Path = ["verify", i]
    if (checkNames.has(check.name)) out.push(error(at([...p, "name"]), `duplicate check name '${check.name}'`))
    checkNames.add(check.name)
    const n = (check.sql !== undefined ? 1 : 0) + (check.cypher !== undefined ? 1 : 0)
    if (n !== 1) {
      out.push(error(at(p), `check '${check.name}' must have exactly one of sql or cypher`))
      continue
    }
    const conn = checkConnection(spec, check)
    const kind = check.cypher !== undefined ? "neo4j" : "postgres"
    if (conn === null) out.push(error(at(p), `check '${check.name}' needs a ${kind} connection`))
    else c.requireConnection(conn, kind, check.connection ? [...p, "connection"] : [...p, check.cypher !== undefined ? "cypher" : "sql"])
    if (check.sql !== undefined) c.requireSqlParams(check.sql, [...p, "sql"])
    if (check.cypher !== undefined) {
      for (const name of cypherParams(check.cypher)) {
        if (!(name in ctx.params)) out.push(error(at([...p, "cypher"]), `query uses $${name}, which is not a param`, suggest(name, c.paramNames, "params")))
      }
    }
    const e = check.expect
    if (e.equals === undefined && e.at_least === undefined && e.at_most === undefined) {
      out.push(error(at([...p, "expect"]), `check '${check.name}' expects nothing`, "add equals, at_least or at_most"))
    }
    for (const bound of ["equals", "at_least", "at_most"] as const) {
      const b = e[bound]
      if (b !== undefined && typeof b === "object") c.requireSource(b.source_count, [...p, "expect", bound, "source_count"])
    }
  }
}
