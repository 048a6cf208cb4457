import { error, suggest } from "../Diagnostic.ts"
import type { Path } from "../Located.ts"
import { graphNames, mappingsWriting } from "../Mapping.ts"
import { cypherParams } from "../QueryParams.ts"
import type { CheckSpec, GraphMatchesSourceSpec } from "../Spec.ts"
import type { Checker } from "./Checker.ts"
import { checkConnection } from "./Topology.ts"

const kinds = "sql, cypher or graph_matches_source"

/** Verify checks: unique names, exactly one kind; a query on a connection of its kind with known params and a bound, or a comparison of a mapping the pipeline has. */
export const lintChecks = (c: Checker): void => {
  const { spec, out, at } = c
  const checkNames = new Set<string>()
  for (const [i, check] of (spec.verify ?? []).entries()) {
    const p: Path = ["verify", i]
    if (checkNames.has(check.name)) out.push(error(at([...p, "name"]), `duplicate check name '${check.name}'`))
    checkNames.add(check.name)
    const n = (check.sql !== undefined ? 1 : 0) + (check.cypher !== undefined ? 1 : 0) + (check.graph_matches_source !== undefined ? 1 : 0)
    if (n !== 1) {
      out.push(error(at(p), `check '${check.name}' must have exactly one of ${kinds}`))
      continue
    }
    if (check.graph_matches_source !== undefined) lintStoreCheck(c, check, check.graph_matches_source, p)
    else lintQueryCheck(c, check, p)
  }
}

const lintQueryCheck = (c: Checker, check: CheckSpec, p: Path): void => {
  const { spec, ctx, out, at } = c
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
  if (e === undefined || (e.equals === undefined && e.at_least === undefined && e.at_most === undefined)) {
    out.push(error(at(e === undefined ? p : [...p, "expect"]), `check '${check.name}' expects nothing`, "add expect with equals, at_least or at_most"))
    return
  }
  for (const bound of ["equals", "at_least", "at_most"] as const) {
    const b = e[bound]
    if (b !== undefined && typeof b === "object") c.requireSource(b.source_count, [...p, "expect", bound, "source_count"])
  }
}

// The stores are those of the mapping: a connection or a bound of its own would mean nothing.
const lintStoreCheck = (c: Checker, check: CheckSpec, g: GraphMatchesSourceSpec, p: Path): void => {
  const { spec, out, at } = c
  const gp: Path = [...p, "graph_matches_source"]
  if (check.connection !== undefined) out.push(error(at([...p, "connection"], "key"), `check '${check.name}' compares the stores of its mapping; connection does not apply`, "remove it"))
  if (check.expect !== undefined) out.push(error(at([...p, "expect"], "key"), `check '${check.name}' compares the stores entity by entity; expect does not apply`, "remove it"))
  if ((g.node === undefined) === (g.relationship === undefined)) {
    out.push(error(at(gp), `check '${check.name}': graph_matches_source needs exactly one of node or relationship`))
    return
  }
  const names = graphNames(spec.steps)
  const what = g.node !== undefined ? { node: g.node } : { relationship: g.relationship! }
  const found = mappingsWriting(spec.steps, what)
  const [field, name, known, noun] = "node" in what ? ["node", what.node, names.labels, "label"] as const : ["relationship", what.relationship, names.types, "relationship type"] as const
  if (found.length === 0) {
    out.push(error(at([...gp, field]), `check '${check.name}': no graph mapping writes the ${noun} '${name}'`, suggest(name, known, `${noun}s`)))
  } else if (found.length > 1) {
    out.push(error(at([...gp, field]), `check '${check.name}': ${found.length} mappings write the ${noun} '${name}' (${found.map((f) => `steps.${f.step}.graph.${field === "node" ? "nodes" : "relationships"}[${f.index}]`).join(", ")}); the check compares the graph with one mapping's source`))
  }
}
