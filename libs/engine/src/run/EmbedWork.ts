import { Clock, Effect } from "effect"
import { DataError } from "../EngineError.ts"
import type { Embedder } from "../Embedder.ts"
import { contentHash } from "../Identity.ts"
import type { EmbedUnit, RowPolicy } from "../Plan.ts"
import { withRetry } from "../Retry.ts"
import type { RetryPolicy } from "../Retry.ts"
import type { Row, Value } from "../Rows.ts"
import type { EmbedStatus, VectorStore } from "../SqlConnector.ts"
import { embedThroughput } from "../Telemetry.ts"
import { badRowsError, showValue } from "./Support.ts"
import type { BadRow } from "./Support.ts"
import type { PageWork } from "./UnitRunner.ts"

/** A page after embedding: what to write, and what each other row was. */
export interface EmbeddedPage {
  readonly read: number
  /** Ids of rows rejected because their text is gone, whose old vector (if any) must go too. */
  readonly textless: ReadonlyArray<{ readonly id: Value; readonly bad: BadRow }>
  readonly ids: ReadonlyArray<Value>
  readonly hashes: ReadonlyArray<Uint8Array>
  readonly vectors: ReadonlyArray<Float32Array>
  readonly created: number
  readonly updated: number
  readonly unchanged: number
  readonly rejected: ReadonlyArray<BadRow>
}

/** Why a text cannot be embedded, or null when it can: an empty text would become the same vector as every other empty text. */
export const badText = (text: Value | undefined, column: string): string | null => {
  if (text === undefined || text === null) return `${column} is NULL`
  if (typeof text !== "string") return `${column} is ${Array.isArray(text) ? "a list" : typeof text}, not text`
  if (text.length === 0) return `${column} is empty`
  if (text.trim().length === 0) return `${column} is only whitespace`
  return null
}

/** Sorts a page's rows by what the embed state says about them; rows that cannot be embedded become bad rows. */
export const classify = (unit: EmbedUnit, target: VectorStore, rows: ReadonlyArray<Row>, policy: RetryPolicy, retried: Effect.Effect<void>) =>
  Effect.gen(function*() {
    const bad: Array<BadRow> = []
    const textless: Array<{ readonly id: Value; readonly bad: BadRow }> = []
    const valid: Array<{ readonly row: Row; readonly id: Value; readonly text: string; readonly hash: Uint8Array }> = []
    for (const row of rows) {
      const id = row[unit.idColumn]
      if (id === undefined || id === null) {
        bad.push({ row, reason: `id column ${unit.idColumn} is NULL` })
        continue
      }
      const why = badText(row[unit.textColumn], unit.textColumn)
      if (why !== null) textless.push({ id, bad: { row, reason: why } })
      else valid.push({ row, id, text: row[unit.textColumn] as string, hash: contentHash(unit.model, row[unit.textColumn] as string) })
    }
    bad.push(...textless.map((t) => t.bad))
    const statuses: ReadonlyArray<EmbedStatus> = valid.length === 0
      ? []
      : yield* withRetry(target.embedStatus(unit.target, unit.model, valid.map((v) => ({ id: v.id, hash: v.hash }))), policy, () => retried)
    const todo: Array<(typeof valid)[number] & { readonly status: EmbedStatus }> = []
    let unchanged = 0
    for (const [i, v] of valid.entries()) {
      const status = statuses[i]!
      if (status === "missing") bad.push({ row: v.row, reason: `no row in ${unit.target.table} with ${unit.target.key} = ${showValue(v.id)}` })
      else if (status === "fresh" && !unit.force) unchanged++
      else todo.push({ ...v, status })
    }
    return { bad, textless, todo, unchanged }
  })

/**
 * The embed step's work: reject rows that cannot be embedded, skip rows whose vector was
 * made from exactly this text with this model (unless forced), embed the rest while the
 * previous page is written, then write vectors and content hashes in one statement.
 */
export const embedWork = (unit: EmbedUnit, rows: RowPolicy, policy: RetryPolicy, target: VectorStore, embedder: Embedder, runId: string, pipeline: string): PageWork<EmbeddedPage> => ({
  prepare: (page, context, retried) =>
    Effect.gen(function*() {
      const { bad, textless, todo, unchanged } = yield* classify(unit, target, page.rows, policy, retried)
      if (bad.length > 0 && rows.onError === "fail") return yield* Effect.fail(badRowsError(context, unit.source.keyset.key, bad))
      const before = yield* Clock.currentTimeMillis
      const vectors = todo.length === 0
        ? []
        : yield* embedder.embed(todo.map((t) => t.text)).pipe(Effect.withSpan("polymath.embed", { attributes: { "polymath.texts": todo.length, "polymath.model": unit.model } }))
      yield* embedThroughput({ pipeline, step: context.step, unit: context.unit }, todo.length, null, (yield* Clock.currentTimeMillis) - before)
      return {
        read: page.rows.length,
        textless,
        ids: todo.map((t) => t.id),
        hashes: todo.map((t) => t.hash),
        vectors,
        created: todo.filter((t) => t.status === "new").length,
        updated: todo.filter((t) => t.status !== "new").length,
        unchanged,
        rejected: bad
      } satisfies EmbeddedPage
    }),
  commit: (page, context, retried) =>
    Effect.gen(function*() {
      if (page.ids.length > 0) {
        const written = yield* withRetry(target.writeVectors(unit.target, { ids: page.ids, vectors: page.vectors, hashes: page.hashes, model: unit.model, runId }), policy, () => retried)
        if (written < page.ids.length) {
          return yield* Effect.fail(new DataError({ context, detail: `${page.ids.length - written} of ${page.ids.length} rows of ${unit.target.table} disappeared while their vectors were computed`, hint: "run again: rows deleted since are then reported as missing" }))
        }
      }
      const cleared = page.textless.length === 0
        ? []
        : yield* withRetry(target.clearVectors(unit.target, page.textless.map((t) => t.id)), policy, () => retried)
      const removed = new Set(cleared.map((i) => page.textless[i]!.bad))
      const rejected = page.rejected.map((b) => (removed.has(b) ? { row: b.row, reason: `${b.reason}; its old vector was removed` } : b))
      return { read: page.read, created: page.created, updated: page.updated, unchanged: page.unchanged, combined: 0, rejected }
    })
})
