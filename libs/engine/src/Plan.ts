import { checkConnection, keyColumns, ledgerConnection, nodeKey, parseEndpoint, stepOrder, toPositional, toPropertyMap } from "@polymath/dsl"
import type { BoundSpec, LoadedPipeline, RetrySpec, ScalarValue } from "@polymath/dsl"
import type { EndpointRef, NodeWrite, RelationshipWrite } from "./GraphConnector.ts"
import { defaultRetry } from "./Retry.ts"
import type { RetryPolicy } from "./Retry.ts"
import type { Value } from "./Rows.ts"
import type { KeysetSource, SqlStatement, VectorTarget } from "./SqlConnector.ts"

/** A source bound to its connection, with params as positional values. */
export interface PlannedSource {
  readonly connection: string
  readonly keyset: KeysetSource
}

/** Embedding one source's texts into a vector column. */
export interface EmbedUnit {
  readonly kind: "embed"
  readonly unit: string
  readonly source: PlannedSource
  readonly idColumn: string
  readonly textColumn: string
  readonly model: string
  readonly target: VectorTarget
  readonly targetConnection: string
  /** Vector dimension the spec declares for the column, if any. */
  readonly declaredDimensions: number | null
}

/** Writing one source's rows as nodes. */
export interface NodeUnit {
  readonly kind: "nodes"
  readonly unit: string
  readonly source: PlannedSource
  readonly write: NodeWrite
}

/** Writing one source's rows as relationships. */
export interface RelationshipUnit {
  readonly kind: "relationships"
  readonly unit: string
  readonly source: PlannedSource
  readonly write: RelationshipWrite
}

export type GraphUnit = NodeUnit | RelationshipUnit

export interface EmbedStep {
  readonly kind: "embed"
  readonly name: string
  readonly after: ReadonlyArray<string>
  readonly retry: RetryPolicy
  readonly unit: EmbedUnit
}

export interface GraphStep {
  readonly kind: "graph"
  readonly name: string
  readonly after: ReadonlyArray<string>
  readonly retry: RetryPolicy
  readonly connection: string
  readonly constraints: ReadonlyArray<{ readonly label: string; readonly key: ReadonlyArray<string> }>
  readonly lineage: Readonly<Record<string, Value>>
  /** Nodes first, then relationships, so endpoints exist before they are matched. */
  readonly units: ReadonlyArray<GraphUnit>
}

export type PlannedStep = EmbedStep | GraphStep

/** A bound of a verification check. */
export type PlannedBound = { readonly value: number } | { readonly sourceCount: PlannedSource; readonly source: string }

export interface PlannedCheck {
  readonly name: string
  readonly connection: string
  readonly query: { readonly kind: "sql"; readonly statement: SqlStatement } | { readonly kind: "cypher"; readonly cypher: string; readonly params: Readonly<Record<string, Value>> }
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
}

const defaultPageSize = 1000

/** Compiles a linted pipeline into a plan. Pure: nothing connects here. */
export const compile = (loaded: LoadedPipeline, options: { readonly force?: boolean } = {}): Plan => {
  const { spec, params } = loaded
  const bind = (sql: string): SqlStatement => {
    const p = toPositional(sql)
    return { text: p.text, params: p.names.map((n) => params[n] ?? null) }
  }
  const source = (name: string, pageSize?: number): PlannedSource => {
    const s = spec.sources[name]!
    return {
      connection: s.connection,
      keyset: { name, statement: bind(s.sql), key: keyColumns(s.key), pageSize: s.page_size ?? pageSize ?? defaultPageSize }
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

  const steps: Array<PlannedStep> = (stepOrder(spec) ?? Object.keys(spec.steps)).map((name): PlannedStep => {
    const step = spec.steps[name]!
    const after = step.after ?? []
    if (step.embed) {
      const e = step.embed
      const src = source(e.from, e.batch_size)
      return {
        kind: "embed",
        name,
        after,
        retry: retry(step.retry),
        unit: {
          kind: "embed",
          unit: name,
          source: src,
          idColumn: e.id ?? src.keyset.key[0]!,
          textColumn: e.text,
          model: e.model,
          targetConnection: e.into.connection ?? src.connection,
          declaredDimensions: e.into.dimensions ?? null,
          target: {
            table: e.into.table,
            key: e.into.key,
            vector: e.into.vector,
            set: Object.entries(e.into.set ?? {}).map(([column, value]) => ({ column, value })),
            force: options.force ?? false
          }
        }
      }
    }
    const g = step.graph!
    const units: Array<GraphUnit> = []
    const constraints = new Map<string, ReadonlyArray<string>>()
    for (const [i, n] of (g.nodes ?? []).entries()) {
      const key = nodeKey(n)
      constraints.set(n.label, key.map((k) => k.property))
      const lf = n.labels_from
      units.push({
        kind: "nodes",
        unit: `${name}/nodes[${i}]:${n.label}`,
        source: source(n.from, g.batch_size),
        write: {
          label: n.label,
          key,
          properties: toPropertyMap(n.properties),
          labelFrom: lf === undefined ? null : typeof lf === "string" ? { column: lf, map: null } : { column: lf.column, map: lf.map ?? null }
        }
      })
    }
    for (const [i, r] of (g.relationships ?? []).entries()) {
      const endpoint = (e: typeof r.start): EndpointRef => {
        const parsed = parseEndpoint(e)
        if (typeof parsed === "string") throw new Error(parsed) // lint has rejected these already
        return parsed
      }
      units.push({
        kind: "relationships",
        unit: `${name}/relationships[${i}]:${r.type}`,
        source: source(r.from, g.batch_size),
        write: {
          type: r.type,
          start: endpoint(r.start),
          end: endpoint(r.end),
          properties: toPropertyMap(r.properties).map((p) => ({ ...p, combine: r.combine?.[p.property] ?? "last" }))
        }
      })
    }
    return {
      kind: "graph",
      name,
      after,
      retry: retry(step.retry),
      connection: g.connection,
      constraints: [...constraints].map(([label, key]) => ({ label, key })),
      lineage: g.lineage ?? {},
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
    models: [...new Set(steps.flatMap((s) => (s.kind === "embed" ? [s.unit.model] : [])))]
  }
}

/** The plan restricted to the named steps (`--only`). */
export const onlySteps = (plan: Plan, names: ReadonlyArray<string>): Plan => ({
  ...plan,
  steps: plan.steps.filter((s) => names.includes(s.name)).map((s) => ({ ...s, after: s.after.filter((a) => names.includes(a)) }))
})
