import { createHash } from "node:crypto"
import {
  checkConnection,
  combineRuleFor,
  identityFoldsRows,
  keyColumns,
  ledgerConnection,
  nodeKey,
  parseEndpoint,
  stepOrder,
  toPositional,
  toPropertyMap
} from "@polymath/dsl"
import type { BoundSpec, CombineRulesSpec, LoadedPipeline, RetrySpec, ScalarValue } from "@polymath/dsl"
import type { EndpointRef, NodeWrite, PropertyMapping, RelationshipWrite, SyncScope } from "./GraphConnector.ts"
import { defaultRetry } from "./Retry.ts"
import type { RetryPolicy } from "./Retry.ts"
import type { KeysetSource, SourceFold, SqlStatement, VectorTarget } from "./SqlConnector.ts"

/** A source bound to its connection, with params as positional values. */
export interface PlannedSource {
  readonly connection: string
  /** As declared; an incremental source gets its lower bound when a run starts. */
  readonly keyset: KeysetSource
  /** The cursor column of an incremental source, and the bound of its first run. */
  readonly incremental: { readonly column: string; readonly initial: string | null } | null
  /** Hash of the source's query and params: a stored high-water mark applies only to the same query. */
  readonly queryHash: string
}

/** What a step does with rows it cannot write. */
export interface RowPolicy {
  readonly onError: "fail" | "skip"
  /** Under skip: fail once the step has rejected more rows than this. */
  readonly maxRejected: number | null
}

interface UnitBase {
  readonly unit: string
  readonly step: string
  readonly source: PlannedSource
  /** Every column the unit reads from its source: checked against the live result before anything is written. */
  readonly columns: ReadonlyArray<string>
}

/** Embedding one source's texts into a vector column. */
export interface EmbedUnit extends UnitBase {
  readonly kind: "embed"
  readonly idColumn: string
  readonly textColumn: string
  readonly model: string
  readonly target: VectorTarget
  readonly targetConnection: string
  /** Vector dimension the spec declares for the column, if any. */
  readonly declaredDimensions: number | null
  /** Re-embed every row the source selects, even those whose vector is up to date. */
  readonly force: boolean
}

interface GraphUnitBase extends UnitBase {
  /** The columns that identify an entity, in identity order (see `Identity`). */
  readonly identity: ReadonlyArray<string>
  /** After a complete pass, remove this scope from what the source no longer yields. */
  readonly mirror: boolean
  /** Several source rows may map to one entity: the source is read folded (see `SourceFold`). */
  readonly folded: boolean
  /** The unfolded source, to count how many rows were combined. */
  readonly rawSource: PlannedSource
}

/** Writing one source's rows as nodes. */
export interface NodeUnit extends GraphUnitBase {
  readonly kind: "nodes"
  readonly write: NodeWrite
}

/** Writing one source's rows as relationships. */
export interface RelationshipUnit extends GraphUnitBase {
  readonly kind: "relationships"
  readonly write: RelationshipWrite
}

export type GraphUnit = NodeUnit | RelationshipUnit
export type PlannedUnit = EmbedUnit | GraphUnit

interface StepBase {
  readonly name: string
  readonly after: ReadonlyArray<string>
  readonly retry: RetryPolicy
  readonly rows: RowPolicy
}

export interface EmbedStep extends StepBase {
  readonly kind: "embed"
  readonly unit: EmbedUnit
}

export interface GraphStep extends StepBase {
  readonly kind: "graph"
  readonly connection: string
  readonly constraints: ReadonlyArray<{ readonly label: string; readonly key: ReadonlyArray<string> }>
  readonly scope: SyncScope
  /** Nodes first, then relationships, so endpoints exist before they are matched. */
  readonly units: ReadonlyArray<GraphUnit>
}

export type PlannedStep = EmbedStep | GraphStep

/** A bound of a verification check. */
export type PlannedBound = { readonly value: number } | { readonly sourceCount: PlannedSource; readonly source: string }

export interface PlannedCheck {
  readonly name: string
  readonly connection: string
  readonly query: { readonly kind: "sql"; readonly statement: SqlStatement } | { readonly kind: "cypher"; readonly cypher: string; readonly params: Readonly<Record<string, ScalarValue>> }
  readonly of: "value" | "rows"
  readonly bounds: ReadonlyArray<{ readonly op: "equals" | "at_least" | "at_most"; readonly bound: PlannedBound }>
}

/** What a pipeline will do, in order: the interpreter's only input besides options. */
export interface Plan {
  readonly pipeline: string
  readonly specHash: string
  readonly params: Readonly<Record<string, ScalarValue>>
  readonly ledgerConnection: string
  readonly steps: ReadonlyArray<PlannedStep>
  readonly checks: ReadonlyArray<PlannedCheck>
  /** The models embed steps use, for the run's identity. */
  readonly models: ReadonlyArray<string>
  /** Set by `onlySteps`: the run covers part of the pipeline, so mirroring never deletes. */
  readonly partial: boolean
}

const defaultPageSize = 1000

const hash = (value: unknown): string =>
  createHash("sha256").update(JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v))).digest("hex").slice(0, 16)

const unique = (xs: ReadonlyArray<string>): ReadonlyArray<string> => [...new Set(xs)]

/** The default scope when a graph step declares no lineage: the pipeline's name in `pipelines`. */
export const defaultScopeProperty = "pipelines"

/**
 * Compiles a linted pipeline into a plan. Pure: nothing connects here. Lint has rejected
 * every spec this cannot compile, so a failure here is a bug and throws.
 */
export const compile = (loaded: LoadedPipeline, options: { readonly force?: boolean } = {}): Plan => {
  const { spec, params } = loaded
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
  const retry = (r: RetrySpec | undefined): RetryPolicy => {
    const base = spec.retry
    return {
      attempts: r?.attempts ?? base?.attempts ?? defaultRetry.attempts,
      baseMs: r?.base_ms ?? base?.base_ms ?? defaultRetry.baseMs,
      maxMs: r?.max_ms ?? base?.max_ms ?? defaultRetry.maxMs
    }
  }
  // Reads the source folded by identity when several of its rows can map to one entity. Each
  // property gets its own folded column, so two properties of one column may fold by two rules.
  const graphSource = (name: string, pageSize: number | undefined, identity: ReadonlyArray<string>, carried: ReadonlyArray<PropertyMapping>, rules: CombineRulesSpec | undefined) => {
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

  const steps: Array<PlannedStep> = (stepOrder(spec) ?? Object.keys(spec.steps)).map((name): PlannedStep => {
    const step = spec.steps[name]!
    const base = {
      name,
      after: step.after ?? [],
      retry: retry(step.retry),
      rows: { onError: step.on_error ?? "fail", maxRejected: step.max_rejected ?? null }
    } satisfies StepBase
    if (step.embed) {
      const e = step.embed
      const src = source(e.from, e.batch_size)
      const idColumn = e.id ?? src.keyset.key[0]!
      return {
        ...base,
        kind: "embed",
        unit: {
          kind: "embed",
          unit: name,
          step: name,
          source: src,
          columns: unique([...src.keyset.key, idColumn, e.text, ...(src.incremental ? [src.incremental.column] : [])]),
          idColumn,
          textColumn: e.text,
          model: e.model,
          targetConnection: e.into.connection ?? src.connection,
          declaredDimensions: e.into.dimensions ?? null,
          force: options.force ?? false,
          target: {
            table: e.into.table,
            key: e.into.key,
            vector: e.into.vector,
            set: Object.entries(e.into.set ?? {}).map(([column, value]) => ({ column, value }))
          }
        }
      }
    }
    const g = step.graph!
    const units: Array<GraphUnit> = []
    const constraints = new Map<string, ReadonlyArray<string>>()
    const [lineageProperty, lineageValue] = Object.entries(g.lineage ?? {})[0] ?? [defaultScopeProperty, spec.pipeline]
    for (const [i, n] of (g.nodes ?? []).entries()) {
      const key = nodeKey(n)
      constraints.set(n.label, key.map((k) => k.property))
      const lf = n.labels_from
      const labelFrom = lf === undefined ? null : typeof lf === "string" ? { column: lf, map: null } : { column: lf.column, map: lf.map ?? null }
      const properties = toPropertyMap(n.properties)
      const identity = key.map((k) => k.column)
      const read = graphSource(n.from, g.batch_size, identity, properties, n.combine)
      units.push({
        kind: "nodes",
        unit: `${name}/nodes[${i}]:${n.label}`,
        step: name,
        source: read.source,
        rawSource: read.raw,
        folded: read.folded,
        identity,
        columns: unique([...read.raw.keyset.key, ...identity, ...properties.map((p) => p.column), ...(labelFrom ? [labelFrom.column] : [])]),
        mirror: (n.on_missing ?? g.on_missing ?? "keep") === "delete",
        write: { kind: "nodes", label: n.label, key, properties: read.properties, labelFrom }
      })
    }
    for (const [i, r] of (g.relationships ?? []).entries()) {
      const endpoint = (e: typeof r.start): EndpointRef => {
        const parsed = parseEndpoint(e)
        if (typeof parsed === "string") throw new Error(parsed)
        return parsed
      }
      const start = endpoint(r.start)
      const end = endpoint(r.end)
      const idKey = toPropertyMap(r.key)
      const properties = toPropertyMap(r.properties)
      const identity = [...start.key, ...end.key, ...idKey].map((k) => k.column)
      const read = graphSource(r.from, g.batch_size, identity, properties, r.combine)
      units.push({
        kind: "relationships",
        unit: `${name}/relationships[${i}]:${r.type}`,
        step: name,
        source: read.source,
        rawSource: read.raw,
        folded: read.folded,
        identity,
        columns: unique([...read.raw.keyset.key, ...identity, ...properties.map((p) => p.column)]),
        mirror: (r.on_missing ?? g.on_missing ?? "keep") === "delete",
        write: { kind: "relationships", type: r.type, start, end, key: idKey, properties: read.properties }
      })
    }
    return {
      ...base,
      kind: "graph",
      connection: g.connection,
      constraints: [...constraints].map(([label, key]) => ({ label, key })),
      // Lint rejects a NULL or empty scope value.
      scope: { property: lineageProperty, value: lineageValue ?? "" },
      units
    }
  })

  const checks: Array<PlannedCheck> = (spec.verify ?? []).map((c) => {
    const bound = (b: BoundSpec): PlannedBound => (typeof b === "number" ? { value: b } : { sourceCount: source(b.source_count), source: b.source_count })
    const bounds: Array<PlannedCheck["bounds"][number]> = []
    for (const op of ["equals", "at_least", "at_most"] as const) {
      const b = c.expect[op]
      if (b !== undefined) bounds.push({ op, bound: bound(b) })
    }
    return {
      name: c.name,
      connection: checkConnection(spec, c)!,
      query: c.cypher !== undefined ? { kind: "cypher", cypher: c.cypher, params } : { kind: "sql", statement: bind(c.sql!) },
      of: c.expect.of ?? "value",
      bounds
    }
  })

  return {
    pipeline: spec.pipeline,
    specHash: loaded.specHash,
    params,
    ledgerConnection: ledgerConnection(spec)!,
    steps,
    checks,
    models: [...new Set(steps.flatMap((s) => (s.kind === "embed" ? [s.unit.model] : [])))],
    partial: false
  }
}

/** The plan restricted to the named steps (`--only`); such a run is partial and never mirrors deletions. */
export const onlySteps = (plan: Plan, names: ReadonlyArray<string>): Plan => ({
  ...plan,
  partial: true,
  steps: plan.steps.filter((s) => names.includes(s.name)).map((s) => ({ ...s, after: s.after.filter((a) => names.includes(a)) }))
})

/** Every unit of a plan, in step order. */
export const unitsOf = (plan: Plan): ReadonlyArray<PlannedUnit> =>
  plan.steps.flatMap((s): ReadonlyArray<PlannedUnit> => (s.kind === "embed" ? [s.unit] : s.units))

/** Re-export so callers need not know where the write shapes live. */
export type { NodeWrite, RelationshipWrite }
