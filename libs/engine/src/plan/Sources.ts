import { createHash } from "node:crypto"
import { combineRuleFor, identityFoldsRows, keyColumns, toPositional } from "@polymath/dsl"
import type { CombineRulesSpec, PipelineSpec, ScalarValue } from "@polymath/dsl"
import type { PropertyMapping } from "../GraphConnector.ts"
import type { SourceFold, SqlStatement } from "../SqlConnector.ts"
import type { PlannedSource } from "./Types.ts"

const defaultPageSize = 1000

const hash = (value: unknown): string =>
  createHash("sha256").update(JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v))).digest("hex").slice(0, 16)

export const unique = (xs: ReadonlyArray<string>): ReadonlyArray<string> => [...new Set(xs)]

/** A source as a graph mapping reads it: folded by identity when several rows can map to one entity. */
export interface GraphRead {
  readonly source: PlannedSource
  /** The unfolded source. */
  readonly raw: PlannedSource
  readonly folded: boolean
  /** The mapping's properties, each read from its folded column when folded. */
  readonly properties: ReadonlyArray<PropertyMapping>
}

/** Binds a pipeline's queries and sources to its params. */
export interface Binder {
  /** `:name` params become positional values: data never enters query text. */
  readonly bind: (sql: string) => SqlStatement
  readonly source: (name: string, pageSize?: number) => PlannedSource
  readonly graphSource: (name: string, pageSize: number | undefined, identity: ReadonlyArray<string>, carried: ReadonlyArray<PropertyMapping>, rules: CombineRulesSpec | undefined) => GraphRead
}

export const makeBinder = (spec: PipelineSpec, params: Readonly<Record<string, ScalarValue>>): Binder => {
  const bind = (sql: string): SqlStatement => {
    const p = toPositional(sql)
    return { text: p.text, params: p.names.map((n) => params[n] ?? null) }
  }
  const source = (name: string, pageSize?: number): PlannedSource => {
    const s = spec.sources[name]!
    const statement = bind(s.sql)
    return {
      connection: s.connection,
      keyset: { name, statement, key: keyColumns(s.key), pageSize: s.page_size ?? pageSize ?? defaultPageSize, cursor: null, fold: null },
      incremental: s.incremental === undefined
        ? null
        : { column: s.incremental.cursor, initial: s.incremental.initial === undefined ? null : String(s.incremental.initial) },
      queryHash: hash([statement.text, statement.params, keyColumns(s.key), s.incremental?.cursor ?? null])
    }
  }
  // Each property gets its own folded column, so two properties of one column may fold by two rules.
  const graphSource: Binder["graphSource"] = (name, pageSize, identity, carried, rules) => {
    const raw = source(name, pageSize)
    if (!identityFoldsRows(identity, raw.keyset.key)) return { source: raw, raw, folded: false, properties: carried }
    const folded = carried.map((c, i) => (identity.includes(c.column) ? null : { column: c.column, as: `__polymath_p${i}`, rule: combineRuleFor(rules, c.property) ?? "last" }))
    const fold: SourceFold = { identity: unique(identity), columns: folded.filter((f) => f !== null), sourceKey: raw.keyset.key }
    return {
      source: { ...raw, keyset: { ...raw.keyset, key: fold.identity, fold } },
      raw,
      folded: true,
      properties: carried.map((c, i) => (folded[i] ? { property: c.property, column: folded[i].as } : c))
    }
  }
  return { bind, source, graphSource }
}
