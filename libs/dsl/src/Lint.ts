import { error, suggest, warning } from "./Diagnostic.ts"
import type { Diagnostic } from "./Diagnostic.ts"
import { positionOf } from "./Located.ts"
import type { Located, Path } from "./Located.ts"
import { keyColumns, nodeKey, parseEndpoint, toPropertyMap } from "./Mapping.ts"
import { cypherParams, toPositional } from "./QueryParams.ts"
import type { PipelineSpec } from "./Spec.ts"

/** What lint needs to know about a model from the registry. */
export interface ModelFacts {
  readonly dimensions: number
}

export interface LintContext {
  readonly doc: Located
  readonly params: Readonly<Record<string, unknown>>
  /** Known models by name; null skips model checks. */
  readonly models: ReadonlyMap<string, ModelFacts> | null
}

/** Kind of each connection, by name. */
export const connectionKinds = (spec: PipelineSpec): ReadonlyMap<string, "postgres" | "neo4j"> => {
  const kinds = new Map<string, "postgres" | "neo4j">()
  for (const [name, c] of Object.entries(spec.connections)) {
    if (c.postgres && !c.neo4j) kinds.set(name, "postgres")
    if (c.neo4j && !c.postgres) kinds.set(name, "neo4j")
  }
  return kinds
}

/** The connection that holds the run ledger: `ledger.connection`, else the first postgres connection. */
export const ledgerConnection = (spec: PipelineSpec): string | null => {
  if (spec.ledger) return spec.ledger.connection
  for (const [name, kind] of connectionKinds(spec)) if (kind === "postgres") return name
  return null
}

/** The connection a verify check runs on: its own, else the first of the right kind. */
export const checkConnection = (spec: PipelineSpec, check: NonNullable<PipelineSpec["verify"]>[number]): string | null => {
  if (check.connection) return check.connection
  const want = check.cypher !== undefined ? "neo4j" : "postgres"
  for (const [name, kind] of connectionKinds(spec)) if (kind === want) return name
  return null
}

/** Steps in an order that respects `after` (declaration order otherwise); null when there is a cycle. */
export const stepOrder = (spec: PipelineSpec): ReadonlyArray<string> | null => {
  const names = Object.keys(spec.steps)
  const done = new Set<string>()
  const order: Array<string> = []
  while (order.length < names.length) {
    const next = names.find((n) => !done.has(n) && (spec.steps[n]!.after ?? []).every((a) => done.has(a) || !(a in spec.steps)))
    if (next === undefined) return null
    done.add(next)
    order.push(next)
  }
  return order
}

/**
 * Cross-checks that the schema cannot express: references between sections,
 * exactly-one-of choices, cycles, and the model registry. Returns every problem.
 */
export const lint = (spec: PipelineSpec, ctx: LintContext): ReadonlyArray<Diagnostic> => {
  const out: Array<Diagnostic> = []
  const at = (path: Path, prefer: "key" | "value" = "value") => positionOf(ctx.doc, path, prefer)
  const kinds = connectionKinds(spec)
  const sourceNames = Object.keys(spec.sources)
  const stepNames = Object.keys(spec.steps)
  const paramNames = Object.keys(ctx.params)
  const usedSources = new Set<string>()

  for (const [name, c] of Object.entries(spec.connections)) {
    const n = (c.postgres ? 1 : 0) + (c.neo4j ? 1 : 0)
    if (n !== 1) out.push(error(at(["connections", name], "key"), `connection '${name}' must have exactly one of postgres or neo4j`))
  }

  const requireConnection = (name: string, kind: "postgres" | "neo4j", path: Path) => {
    if (!(name in spec.connections)) {
      out.push(error(at(path), `unknown connection '${name}'`, suggest(name, Object.keys(spec.connections), "connections")))
    } else if (kinds.get(name) !== undefined && kinds.get(name) !== kind) {
      out.push(error(at(path), `connection '${name}' is ${kinds.get(name)}, but a ${kind} connection is needed here`))
    }
  }
  const requireSource = (name: string, path: Path) => {
    usedSources.add(name)
    if (!(name in spec.sources)) out.push(error(at(path), `unknown source '${name}'`, suggest(name, sourceNames, "sources")))
  }
  const requireSqlParams = (sql: string, path: Path) => {
    for (const p of toPositional(sql).names) {
      if (!(p in ctx.params)) out.push(error(at(path), `query uses :${p}, which is not a param`, suggest(p, paramNames, "params")))
    }
  }

  for (const [name, source] of Object.entries(spec.sources)) {
    requireConnection(source.connection, "postgres", ["sources", name, "connection"])
    requireSqlParams(source.sql, ["sources", name, "sql"])
    if (source.sql.trim() === "") out.push(error(at(["sources", name, "sql"]), `source '${name}' has an empty query`))
  }

  if (ledgerConnection(spec) === null) {
    out.push(error(at(["connections"], "key"), "no postgres connection for the run ledger", "declare a postgres connection (the ledger records runs and checkpoints there)"))
  } else if (spec.ledger) requireConnection(spec.ledger.connection, "postgres", ["ledger", "connection"])

  for (const [stepName, step] of Object.entries(spec.steps)) {
    const base: Path = ["steps", stepName]
    const n = (step.embed ? 1 : 0) + (step.graph ? 1 : 0)
    if (n !== 1) out.push(error(at(base, "key"), `step '${stepName}' must have exactly one of embed or graph`))
    for (const [i, a] of (step.after ?? []).entries()) {
      if (!(a in spec.steps)) out.push(error(at([...base, "after", i]), `unknown step '${a}'`, suggest(a, stepNames, "steps")))
      if (a === stepName) out.push(error(at([...base, "after", i]), `step '${stepName}' cannot run after itself`))
    }
    if (step.embed) {
      const e = step.embed
      const p: Path = [...base, "embed"]
      requireSource(e.from, [...p, "from"])
      const source = spec.sources[e.from]
      if (source && e.id === undefined && keyColumns(source.key).length !== 1) {
        out.push(error(at([...p, "from"]), `source '${e.from}' has a composite key; set embed.id to the column that matches into.key`))
      }
      if (e.into.connection !== undefined) requireConnection(e.into.connection, "postgres", [...p, "into", "connection"])
      if (ctx.models) {
        const model = ctx.models.get(e.model)
        if (!model) out.push(error(at([...p, "model"]), `unknown model '${e.model}'`, suggest(e.model, [...ctx.models.keys()], "models")))
        else if (e.into.dimensions !== undefined && e.into.dimensions !== model.dimensions) {
          out.push(error(at([...p, "into", "dimensions"]), `model '${e.model}' makes ${model.dimensions}-d vectors but ${e.into.table}.${e.into.vector} holds ${e.into.dimensions}-d vectors`, "use a model with matching dimensions or change the column"))
        }
      }
    }
    if (step.graph) {
      const g = step.graph
      const p: Path = [...base, "graph"]
      requireConnection(g.connection, "neo4j", [...p, "connection"])
      const nodeKeys = new Map<string, ReadonlyArray<string>>()
      for (const [i, node] of (g.nodes ?? []).entries()) {
        requireSource(node.from, [...p, "nodes", i, "from"])
        const key = nodeKey(node).map((k) => k.property)
        const prev = nodeKeys.get(node.label)
        if (prev && prev.join(",") !== key.join(",")) {
          out.push(error(at([...p, "nodes", i, "key"]), `label ${node.label} is keyed by (${prev.join(", ")}) elsewhere; one label needs one key`))
        }
        nodeKeys.set(node.label, key)
        const props = toPropertyMap(node.properties).map((x) => x.property)
        for (const k of key) if (props.includes(k)) out.push(error(at([...p, "nodes", i, "properties"]), `property '${k}' is part of the key of ${node.label}; list it only under key`))
      }
      for (const [i, rel] of (g.relationships ?? []).entries()) {
        const rp: Path = [...p, "relationships", i]
        requireSource(rel.from, [...rp, "from"])
        for (const end of ["start", "end"] as const) {
          const ep = parseEndpoint(rel[end])
          if (typeof ep === "string") {
            out.push(error(at([...rp, end]), ep))
            continue
          }
          const key = nodeKeys.get(ep.label)
          if (!key) {
            out.push(error(at([...rp, end]), `relationship ${rel.type} ${end}s at ${ep.label}, which no node mapping in this step writes`, suggest(ep.label, [...nodeKeys.keys()], "labels")))
          } else if (ep.key.map((k) => k.property).sort().join(",") !== [...key].sort().join(",")) {
            out.push(error(at([...rp, end]), `${ep.label} is keyed by (${key.join(", ")}), but this endpoint matches on (${ep.key.map((k) => k.property).join(", ")})`))
          }
        }
        const props = toPropertyMap(rel.properties).map((x) => x.property)
        for (const prop of Object.keys(rel.combine ?? {})) {
          if (!props.includes(prop)) out.push(error(at([...rp, "combine", prop], "key"), `combine names '${prop}', which is not a property of ${rel.type}`, suggest(prop, props, "properties")))
        }
      }
      if ((g.nodes ?? []).length === 0 && (g.relationships ?? []).length === 0) {
        out.push(error(at(p, "key"), `graph step '${stepName}' writes no nodes and no relationships`))
      }
    }
  }

  if (stepOrder(spec) === null) {
    out.push(error(at(["steps"], "key"), `steps depend on each other in a cycle: ${describeCycle(spec)}`, "remove one of the `after` references"))
  }

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
    else requireConnection(conn, kind, check.connection ? [...p, "connection"] : [...p, check.cypher !== undefined ? "cypher" : "sql"])
    if (check.sql !== undefined) requireSqlParams(check.sql, [...p, "sql"])
    if (check.cypher !== undefined) {
      for (const name of cypherParams(check.cypher)) {
        if (!(name in ctx.params)) out.push(error(at([...p, "cypher"]), `query uses $${name}, which is not a param`, suggest(name, paramNames, "params")))
      }
    }
    const e = check.expect
    if (e.equals === undefined && e.at_least === undefined && e.at_most === undefined) {
      out.push(error(at([...p, "expect"]), `check '${check.name}' expects nothing`, "add equals, at_least or at_most"))
    }
    for (const bound of ["equals", "at_least", "at_most"] as const) {
      const b = e[bound]
      if (b !== undefined && typeof b === "object") requireSource(b.source_count, [...p, "expect", bound, "source_count"])
    }
  }

  for (const name of sourceNames) {
    if (!usedSources.has(name)) out.push(warning(at(["sources", name], "key"), `source '${name}' is not used by any step or check`))
  }
  return out
}

const describeCycle = (spec: PipelineSpec): string => {
  const names = Object.keys(spec.steps)
  for (const start of names) {
    const path: Array<string> = [start]
    const visit = (n: string): boolean => {
      for (const a of spec.steps[n]?.after ?? []) {
        if (a === start) {
          path.push(a)
          return true
        }
        if (path.includes(a) || !(a in spec.steps)) continue
        path.push(a)
        if (visit(a)) return true
        path.pop()
      }
      return false
    }
    if (visit(start)) return path.reverse().join(" -> ")
  }
  return names.join(", ")
}
