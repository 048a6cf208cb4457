import { Effect, Metric } from "effect"

/**
 * The run's metrics. They are Effect `Metric`s: the runner exports them over OTLP when
 * an endpoint is configured and they cost next to nothing otherwise. Attributes say
 * which pipeline step and unit a value belongs to, so a dashboard can split by them.
 */

/** Source rows by what became of them: read, created, updated, unchanged, combined, deleted, rejected. */
const rows = Metric.counter("polymath_rows", { description: "source rows by outcome", incremental: true })

/** Transient failures retried, by reason. */
const retries = Metric.counter("polymath_retries", { description: "transient failures retried", incremental: true })

/** Wall time of one committed batch (prepare excluded), milliseconds. */
const batchMillis = Metric.histogram("polymath_batch_duration_ms", {
  description: "time to write one batch, ms",
  boundaries: Metric.exponentialBoundaries({ start: 5, factor: 2, count: 14 })
})

/** Embedding throughput of one batch, texts per second. */
const embedRate = Metric.histogram("polymath_embed_texts_per_second", {
  description: "embedding throughput per batch, texts/s",
  boundaries: Metric.exponentialBoundaries({ start: 1, factor: 2, count: 16 })
})

/** Tokens the model saw per second in one batch (when the embedder reports tokens). */
const embedTokenRate = Metric.histogram("polymath_embed_tokens_per_second", {
  description: "embedding throughput per batch, tokens/s",
  boundaries: Metric.exponentialBoundaries({ start: 16, factor: 2, count: 16 })
})

export type RowOutcome = "read" | "created" | "updated" | "unchanged" | "combined" | "deleted" | "rejected"

/** Where a value belongs. */
export interface UnitAttributes {
  readonly pipeline: string
  readonly step: string
  readonly unit: string
}

/** Adds `n` rows of `outcome` for a unit. */
export const rowsTotal = (where: UnitAttributes, outcome: RowOutcome, n: number): Effect.Effect<void> =>
  n === 0 ? Effect.void : Metric.update(Metric.withAttributes(rows, { ...where, outcome }), n)

/** Counts one retry. */
export const retriesTotal = (reason: string): Effect.Effect<void> => Metric.update(Metric.withAttributes(retries, { reason }), 1)

/** Records how long a batch took to write. */
export const batchDuration = (where: UnitAttributes, millis: number): Effect.Effect<void> =>
  Metric.update(Metric.withAttributes(batchMillis, { ...where }), millis)

/** Records an embedding batch's throughput. */
export const embedThroughput = (where: UnitAttributes, texts: number, tokens: number | null, millis: number): Effect.Effect<void> => {
  if (millis <= 0 || texts === 0) return Effect.void
  const textsPerSecond = Metric.update(Metric.withAttributes(embedRate, { ...where }), (texts * 1000) / millis)
  return tokens === null ? textsPerSecond : Effect.andThen(textsPerSecond, Metric.update(Metric.withAttributes(embedTokenRate, { ...where }), (tokens * 1000) / millis))
}
