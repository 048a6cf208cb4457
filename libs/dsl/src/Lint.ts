import { error, suggest, warning } from "./Diagnostic.ts"
import type { Diagnostic } from "./Diagnostic.ts"
import { positionOf } from "./Located.ts"
import type { Located, Path } from "./Located.ts"
import { combineRuleFor, identityFoldsRows, keyColumns, nodeIdentityColumns, nodeKey, parseEndpoint, relationshipIdentityColumns, sqlMayReturn, toPropertyMap } from "./Mapping.ts"
import { cypherParams, toPositional } from "./QueryParams.ts"
import type { CombineRulesSpec, PipelineSpec } from "./Spec.ts"

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

  // A column the query never names cannot be in its result; `plan` and every run check the live result exactly.
  const requireColumn = (sourceName: string, column: string, path: Path, role: string) => {
    const source = spec.sources[sourceName]
    if (source === undefined || typeof source.sql !== "string" || sqlMayReturn(source.sql, column)) return
    out.push(error(at(path), `source '${sourceName}' does not return column '${column}' (${role}): its query never names it`, `select it, or alias an expression AS ${column}`))
  }

  for (const [name, source] of Object.entries(spec.sources)) {
    requireConnection(source.connection, "postgres", ["sources", name, "connection"])
    requireSqlParams(source.sql, ["sources", name, "sql"])
    if (source.sql.trim() === "") out.push(error(at(["sources", name, "sql"]), `source '${name}' has an empty query`))
    for (const k of keyColumns(source.key)) requireColumn(name, k, ["sources", name, "key"], "its key")
    if (source.incremental) requireColumn(name, source.incremental.cursor, ["sources", name, "incremental", "cursor"], "its incremental cursor")
  }

  if (ledgerConnection(spec) === null) {
    out.push(error(at(["connections"], "key"), "no postgres connection for the run ledger", "declare a postgres connection (the ledger records runs and checkpoints there)"))
  } else if (spec.ledger) requireConnection(spec.ledger.connection, "postgres", ["ledger", "connection"])

  for (const [stepName, step] of Object.entries(spec.steps)) {
    const base: Path = ["steps", stepName]
    const n = (step.embed ? 1 : 0) + (step.graph ? 1 : 0)
    if (n !== 1) out.push(error(at(base, "key"), `step '${stepName}' must have exactly one of embed or graph`))
    if (step.max_rejected !== undefined && step.on_error !== "skip") {
      out.push(warning(at([...base, "max_rejected"], "key"), `max_rejected applies only with on_error: skip; step '${stepName}' fails on the first bad row`))
    }
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
      requireColumn(e.from, e.text, [...p, "text"], "the text to embed")
      if (e.id !== undefined) requireColumn(e.from, e.id, [...p, "id"], "the id matched against into.key")
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
      const lineage = Object.keys(g.lineage ?? {})
      if (lineage.length > 1) {
        out.push(error(at([...p, "lineage"]), `lineage names the scope of this step's writes and takes one property (a set of scope values on every entity), got ${lineage.length}`, "e.g. lineage: { extractor_versions: \"${params.extractor_version}\" }"))
      }
      for (const name of lineage) {
        if (name === "run_id" || name === "synced_at") out.push(error(at([...p, "lineage", name], "key"), `lineage property '${name}' is the name of a stamp every write sets; choose another`))
        const value = g.lineage![name]
        if (value === null || value === "") out.push(error(at([...p, "lineage", name]), `lineage ${name} has no value, so this step's writes would have no scope`, "give it a value, e.g. \"${params.extractor_version}\" (and check the param is set)"))
      }
      const incrementalMirror = (sourceName: string, onMissing: string | undefined, path: Path) => {
        if ((onMissing ?? g.on_missing) === "delete" && spec.sources[sourceName]?.incremental !== undefined) {
          out.push(error(at(path), `on_missing: delete needs the complete source, but '${sourceName}' is incremental (it yields only rows changed since the last run)`, "read this mapping from a source without incremental, or keep on_missing: keep"))
        }
      }
      // Rows fold into one entity when its identity leaves out part of the source key; then each property needs a rule.
      const requireCombine = (what: string, sourceName: string, identity: ReadonlyArray<string>, properties: ReadonlyArray<string>, rules: CombineRulesSpec | undefined, path: Path, hint: string) => {
        const source = spec.sources[sourceName]
        if (!source) return
        const sourceKey = keyColumns(source.key)
        if (!identityFoldsRows(identity, sourceKey)) {
          if (rules !== undefined) out.push(warning(at([...path, "combine"], "key"), `combine has no effect: each row of source '${sourceName}' is its own ${what} (its identity includes the source key)`))
          return
        }
        if (source.incremental !== undefined) {
          out.push(error(at(path), `several rows of source '${sourceName}' can map to one ${what}, but the source is incremental: rows of one ${what} may arrive in different runs, and combining needs them together`, "make the identity include the source key, or read this mapping from a source without incremental"))
          return
        }
        const missing = properties.filter((prop) => combineRuleFor(rules, prop) === undefined)
        if (missing.length > 0) {
          const left = sourceKey.filter((k) => !identity.includes(k))
          out.push(error(at(path), `several rows of source '${sourceName}' can map to one ${what}: its identity (${identity.join(", ")}) leaves out source key column${left.length > 1 ? "s" : ""} ${left.join(", ")}, and ${missing.map((m) => `'${m}'`).join(", ")} ${missing.length > 1 ? "have" : "has"} no combine rule`, hint))
        }
      }
      const nodeKeys = new Map<string, ReadonlyArray<string>>()
      for (const [i, node] of (g.nodes ?? []).entries()) {
        const np: Path = [...p, "nodes", i]
        requireSource(node.from, [...np, "from"])
        const key = nodeKey(node).map((k) => k.property)
        const prev = nodeKeys.get(node.label)
        if (prev && prev.join(",") !== key.join(",")) {
          out.push(error(at([...np, "key"]), `label ${node.label} is keyed by (${prev.join(", ")}) elsewhere; one label needs one key`))
        }
        nodeKeys.set(node.label, key)
        const propMap = toPropertyMap(node.properties)
        const props = propMap.map((x) => x.property)
        for (const k of key) if (props.includes(k)) out.push(error(at([...np, "properties"]), `property '${k}' is part of the key of ${node.label}; list it only under key`))
        for (const k of lineage) if (props.includes(k) || key.includes(k)) out.push(error(at([...np, "properties"]), `property '${k}' of ${node.label} is also the step's lineage property`))
        for (const c of nodeKey(node)) requireColumn(node.from, c.column, [...np, "key"], `key ${c.property} of ${node.label}`)
        for (const c of propMap) requireColumn(node.from, c.column, [...np, "properties"], `property ${c.property} of ${node.label}`)
        const lf = node.labels_from
        const lfColumn = lf === undefined ? undefined : typeof lf === "string" ? lf : lf.column
        if (lfColumn !== undefined) requireColumn(node.from, lfColumn, [...np, "labels_from"], `labels_from of ${node.label}`)
        if (typeof node.combine === "object") {
          for (const prop of Object.keys(node.combine)) {
            if (!props.includes(prop)) out.push(error(at([...np, "combine", prop], "key"), `combine names '${prop}', which is not a property of ${node.label}`, suggest(prop, props, "properties")))
          }
        }
        const identity = nodeIdentityColumns(node)
        const source = spec.sources[node.from]
        if (lfColumn !== undefined && source && identityFoldsRows(identity, keyColumns(source.key)) && !identity.includes(lfColumn)) {
          out.push(error(at([...np, "labels_from"]), `labels_from column '${lfColumn}' must be part of the key of ${node.label}: several rows of source '${node.from}' can map to one node`))
        }
        requireCombine(`${node.label} node`, node.from, identity, props, node.combine, np, `make the source return one row per ${node.label} (SELECT DISTINCT or GROUP BY, with key: ${identity.join(", ")}), or declare combine (e.g. combine: last)`)
        incrementalMirror(node.from, node.on_missing, node.on_missing !== undefined ? [...np, "on_missing"] : [...np, "from"])
      }
      for (const [i, rel] of (g.relationships ?? []).entries()) {
        const rp: Path = [...p, "relationships", i]
        requireSource(rel.from, [...rp, "from"])
        let endpointsOk = true
        for (const end of ["start", "end"] as const) {
          const ep = parseEndpoint(rel[end])
          if (typeof ep === "string") {
            out.push(error(at([...rp, end]), ep))
            endpointsOk = false
            continue
          }
          const key = nodeKeys.get(ep.label)
          if (!key) {
            out.push(error(at([...rp, end]), `relationship ${rel.type} ${end}s at ${ep.label}, which no node mapping in this step writes`, suggest(ep.label, [...nodeKeys.keys()], "labels")))
            endpointsOk = false
          } else if (ep.key.map((k) => k.property).sort().join(",") !== [...key].sort().join(",")) {
            out.push(error(at([...rp, end]), `${ep.label} is keyed by (${key.join(", ")}), but this endpoint matches on (${ep.key.map((k) => k.property).join(", ")})`))
            endpointsOk = false
          }
          for (const c of ep.key) requireColumn(rel.from, c.column, [...rp, end], `${end} of ${rel.type}`)
        }
        const propMap = toPropertyMap(rel.properties)
        const props = propMap.map((x) => x.property)
        const idMap = toPropertyMap(rel.key)
        for (const k of idMap) {
          if (props.includes(k.property)) out.push(error(at([...rp, "key"]), `property '${k.property}' of ${rel.type} is part of its key; list it only under key`))
          if (lineage.includes(k.property)) out.push(error(at([...rp, "key"]), `property '${k.property}' of ${rel.type} is also the step's lineage property`))
          requireColumn(rel.from, k.column, [...rp, "key"], `key ${k.property} of ${rel.type}`)
        }
        for (const k of lineage) if (props.includes(k)) out.push(error(at([...rp, "properties"]), `property '${k}' of ${rel.type} is also the step's lineage property`))
        for (const c of propMap) requireColumn(rel.from, c.column, [...rp, "properties"], `property ${c.property} of ${rel.type}`)
        if (typeof rel.combine === "object") {
          for (const prop of Object.keys(rel.combine)) {
            if (!props.includes(prop)) out.push(error(at([...rp, "combine", prop], "key"), `combine names '${prop}', which is not a property of ${rel.type}`, suggest(prop, props, "properties")))
          }
        }
        const identity = relationshipIdentityColumns(rel)
        if (identity !== null && endpointsOk) {
          requireCombine(`${rel.type} relationship`, rel.from, identity, props, rel.combine, rp, `declare key: [...] with the columns that tell such rows apart (e.g. key: [role] for one ${rel.type} per role), make the source return one row per relationship, or declare combine`)
        }
        incrementalMirror(rel.from, rel.on_missing, rel.on_missing !== undefined ? [...rp, "on_missing"] : [...rp, "from"])
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
