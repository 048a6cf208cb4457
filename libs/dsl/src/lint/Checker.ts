import { error, suggest } from "../Diagnostic.ts"
import type { Diagnostic, Position } from "../Diagnostic.ts"
import { occurrenceBefore, positionOf, positionWithin } from "../Located.ts"
import type { Located, Path } from "../Located.ts"
import { sqlMayReturn } from "../Mapping.ts"
import { sqlParamRefs } from "../QueryParams.ts"
import { selectedColumns } from "../SelectList.ts"
import type { PipelineSpec } from "../Spec.ts"
import { connectionKinds } from "./Topology.ts"

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

/** The checks every lint rule shares; each records its problems in `out`. */
export interface Checker {
  readonly spec: PipelineSpec
  readonly ctx: LintContext
  readonly out: Array<Diagnostic>
  readonly at: (path: Path, prefer?: "key" | "value") => Position | null
  readonly paramNames: ReadonlyArray<string>
  /** Sources some step or check reads, for the unused-source warning. */
  readonly usedSources: Set<string>
  readonly requireConnection: (name: string, kind: "postgres" | "neo4j", path: Path) => void
  readonly requireSource: (name: string, path: Path) => void
  readonly requireSqlParams: (sql: string, path: Path) => void
  /** A column the source's query never names cannot be in its result. */
  readonly requireColumn: (sourceName: string, column: string, path: Path, role: string) => void
}

export const makeChecker = (spec: PipelineSpec, ctx: LintContext): Checker => {
  const out: Array<Diagnostic> = []
  const at = (path: Path, prefer: "key" | "value" = "value") => positionOf(ctx.doc, path, prefer)
  const kinds = connectionKinds(spec)
  const paramNames = Object.keys(ctx.params)
  const usedSources = new Set<string>()
  // Each source's query is read once, however many columns are asked of it.
  const selections = new Map<string, ReadonlyArray<string> | null>()
  const selectedColumnsOf = (sql: string) => {
    if (!selections.has(sql)) selections.set(sql, selectedColumns(sql))
    return selections.get(sql)!
  }
  return {
    spec,
    ctx,
    out,
    at,
    paramNames,
    usedSources,
    requireConnection: (name, kind, path) => {
      if (!(name in spec.connections)) {
        out.push(error(at(path), `unknown connection '${name}'`, suggest(name, Object.keys(spec.connections), "connections")))
      } else if (kinds.get(name) !== undefined && kinds.get(name) !== kind) {
        out.push(error(at(path), `connection '${name}' is ${kinds.get(name)}, but a ${kind} connection is needed here`))
      }
    },
    requireSource: (name, path) => {
      usedSources.add(name)
      if (!(name in spec.sources)) out.push(error(at(path), `unknown source '${name}'`, suggest(name, Object.keys(spec.sources), "sources")))
    },
    requireSqlParams: (sql, path) => {
      // Each unknown name once, where it is first written.
      const reported = new Set<string>()
      for (const ref of sqlParamRefs(sql)) {
        if (ref.name in ctx.params || reported.has(ref.name)) continue
        // A query of thousands of unknown names is one mistake, not thousands (and finding each costs a scan).
        if (reported.size === 20) break
        reported.add(ref.name)
        const needle = `:${ref.name}`
        out.push(error(positionWithin(ctx.doc, path, needle, occurrenceBefore(sql, needle, ref.index)), `query uses :${ref.name}, which is not a param`, suggest(ref.name, paramNames, "params") ?? "declare it under params, or write :: for a cast"))
      }
    },
    // A heuristic without a database; `plan` and every run check the live result exactly.
    requireColumn: (sourceName, column, path, role) => {
      const source = spec.sources[sourceName]
      // An empty query is reported as such, not once per column.
      if (source === undefined || typeof source.sql !== "string" || source.sql.trim() === "") return
      if (!sqlMayReturn(source.sql, column)) {
        out.push(error(at(path), `source '${sourceName}' does not return column '${column}' (${role}): its query never names it`, `select it, or alias an expression AS ${column}`))
        return
      }
      const selected = selectedColumnsOf(source.sql)
      if (selected !== null && !selected.some((s) => s.toLowerCase() === column.toLowerCase())) {
        out.push(error(at(path), `source '${sourceName}' does not return column '${column}' (${role}): its query selects only ${selected.join(", ")}`, `add ${column} to the SELECT list, or alias an expression AS ${column}`))
      }
    }
  }
}
