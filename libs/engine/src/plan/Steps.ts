import { nodeKey, toPropertyMap } from "@polymath/dsl"
import type { EmbedSpec, GraphSpec, PipelineSpec, RetrySpec } from "@polymath/dsl"
import { defaultRetry } from "../Retry.ts"
import type { RetryPolicy } from "../Retry.ts"
import { unique } from "./Sources.ts"
import type { Binder } from "./Sources.ts"
import type { VectorIndex } from "../VectorStore.ts"
import type { EmbedStep, GraphStep, GraphUnit, PlannedStep, StepBase } from "./Types.ts"

/** The default scope when a graph step declares no lineage: the pipeline's name in `pipelines`. */
export const defaultScopeProperty = "pipelines"

export interface StepOptions {
  /** Re-embed every row an embed step selects. */
  readonly force: boolean
}

const retryPolicy = (spec: PipelineSpec, r: RetrySpec | undefined): RetryPolicy => ({
  attempts: r?.attempts ?? spec.retry?.attempts ?? defaultRetry.attempts,
  baseMs: r?.base_ms ?? spec.retry?.base_ms ?? defaultRetry.baseMs,
  maxMs: r?.max_ms ?? spec.retry?.max_ms ?? defaultRetry.maxMs
})

/** Compiles one step; lint has made it exactly one of embed or graph. */
export const compileStep = (spec: PipelineSpec, binder: Binder, name: string, options: StepOptions): PlannedStep => {
  const step = spec.steps[name]!
  const base = {
    name,
    after: step.after ?? [],
    retry: retryPolicy(spec, step.retry),
    rows: { onError: step.on_error ?? "fail", maxRejected: step.max_rejected ?? null }
  } satisfies StepBase
  return step.embed ? embedStep(base, binder, step.embed, options) : graphStep(spec, base, binder, step.graph!)
}

const embedStep = (base: StepBase, binder: Binder, e: EmbedSpec, options: StepOptions): EmbedStep => {
  const src = binder.source(e.from, e.batch_size)
  const idColumn = e.id ?? src.keyset.key[0]!
  return {
    ...base,
    kind: "embed",
    unit: {
      kind: "embed",
      unit: base.name,
      step: base.name,
      what: `texts to embed with ${e.model} into ${e.into.table}.${e.into.vector}`,
      source: src,
      columns: unique([...src.keyset.key, idColumn, e.text, ...(src.incremental ? [src.incremental.column] : [])]),
      idColumn,
      textColumn: e.text,
      model: e.model,
      targetConnection: e.into.connection ?? src.connection,
      declaredDimensions: e.into.dimensions ?? null,
      force: options.force,
      target: {
        table: e.into.table,
        key: e.into.key,
        vector: e.into.vector,
        set: Object.entries(e.into.set ?? {}).map(([column, value]) => ({ column, value })),
        ...(e.into.index ? { index: vectorIndexOf(e.into.index) } : {})
      }
    }
  }
}

const graphStep = (spec: PipelineSpec, base: StepBase, binder: Binder, g: GraphSpec): GraphStep => {
  const name = base.name
  const units: Array<GraphUnit> = []
  const constraints = new Map<string, ReadonlyArray<string>>()
  const vectorIndexes = (g.nodes ?? []).flatMap((n) =>
    n.vector_index ? [{ label: n.label, property: n.vector_index.property, dimensions: n.vector_index.dimensions, similarity: n.vector_index.similarity ?? "cosine" as const }] : []
  )
  const [lineageProperty, lineageValue] = Object.entries(g.lineage ?? {})[0] ?? [defaultScopeProperty, spec.pipeline]
  for (const [i, n] of (g.nodes ?? []).entries()) {
    const key = nodeKey(n)
    constraints.set(n.label, key.map((k) => k.property))
    const lf = n.labels_from
    const labelFrom = lf === undefined ? null : typeof lf === "string" ? { column: lf, map: null } : { column: lf.column, map: lf.map ?? null }
    const properties = toPropertyMap(n.properties)
    const identity = key.map((k) => k.column)
    const read = binder.graphSource(n.from, g.batch_size, identity, properties, n.combine)
    units.push({
      kind: "nodes",
      unit: `${name}/nodes[${i}]:${n.label}`,
      step: name,
      what: `${n.label} nodes`,
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
    // Endpoints arrive decoded: the spec's schema parsed `Label(column)` once.
    const { start, end } = r
    const idKey = toPropertyMap(r.key)
    const properties = toPropertyMap(r.properties)
    const identity = [...start.key, ...end.key, ...idKey].map((k) => k.column)
    const read = binder.graphSource(r.from, g.batch_size, identity, properties, r.combine)
    units.push({
      kind: "relationships",
      unit: `${name}/relationships[${i}]:${r.type}`,
      step: name,
      what: `${r.type} relationships`,
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
    vectorIndexes,
    // Lint rejects a NULL or empty scope value.
    scope: { property: lineageProperty, value: lineageValue ?? "" },
    units
  }
}

/** A declared index as the vector store takes it: the build options pgvector names, only those given. */
const vectorIndexOf = (i: NonNullable<EmbedSpec["into"]["index"]>): VectorIndex => ({
  method: i.method,
  metric: i.metric ?? "cosine",
  options: (["m", "ef_construction", "lists"] as const).flatMap((name) => (i[name] === undefined ? [] : [{ name, value: i[name] }]))
})
