import { Effect, Option, Stream } from "effect"
import type pg from "pg"
import type { KeysetSource, KeyTuple, Page, Value } from "@polymath/engine"
import { pgFailure } from "./PgError.ts"
import type { PgError } from "./PgError.ts"
import { runSingleStatement } from "./PgPool.ts"
import { keyOf, planSource, selectWithKeys, sourceLabel, stripHidden } from "./Source.ts"

// Checkpoint tuples are compared as text: a checkpoint read back from JSON may hold a
// number where the page has the same bigint rendered as a string.
const sameKey = (a: KeyTuple, b: KeyTuple): boolean => a.every((v, i) => String(v) === String(b[i]))

/** The failure for a key value that occurs more than once: keyset paging would skip rows. */
export const duplicateKeyError = (source: KeysetSource, key: KeyTuple): PgError =>
  pgFailure(
    "DuplicateKey",
    `${sourceLabel(source)}: key (${source.key.join(", ")}) is not unique: ` +
      `${source.key.map((k, i) => `${k}=${String(key[i])}`).join(", ")} occurs more than once; keyset paging would skip rows. ` +
      "Declare a key that identifies one row (e.g. add columns to key) or make the query return one row per key"
  )

const validateCheckpoint = (source: KeysetSource, after: KeyTuple | null): Effect.Effect<void, PgError> =>
  after !== null && after.length !== source.key.length
    ? Effect.fail(
      pgFailure(
        "InvalidCheckpoint",
        `${sourceLabel(source)}: checkpoint has ${after.length} key value(s) but the key has ${source.key.length} column(s)`
      )
    )
    : Effect.void

/**
 * Streams a source in key order, one page per query over the source's effective rows
 * (non-null keys, at or past the cursor; see `planSource`):
 *
 *     SELECT src.* FROM <source> ORDER BY k1, k2 LIMIT $page
 *     SELECT src.* FROM <source> WHERE (k1, k2) >= ($a, $b) ORDER BY k1, k2 LIMIT $page + 1
 *
 * A page after a key reads from that key inclusive, one row more than a page: the one
 * leading row equal to the previous last key is dropped, and a second one proves the key
 * is not unique, which with `>` would have gone unnoticed while the rows after it on the
 * next page were skipped. Within a page equal keys are adjacent and compared directly.
 * Resuming from a checkpoint is the same step. Only one page is ever in memory; the
 * stream ends after a short read.
 */
export const keysetPages = (pool: pg.Pool, source: KeysetSource, after: KeyTuple | null): Stream.Stream<Page, PgError> =>
  Stream.unwrap(
    Effect.gen(function*() {
      yield* validateCheckpoint(source, after)
      const plan = yield* planSource(pool, source)
      const n = plan.params.length
      const k = source.key.length
      const order = plan.cols.join(", ")
      const boundary = k === 1
        ? `${plan.cols[0]} >= $${n + 1}`
        : `(${order}) >= (${source.key.map((_, i) => `$${n + 1 + i}`).join(", ")})`
      const select = selectWithKeys(plan)
      const firstText = `SELECT ${select} FROM ${plan.from} ORDER BY ${order} LIMIT $${n + 1}`
      const nextText = `SELECT ${select} FROM ${plan.from} WHERE ${boundary} ORDER BY ${order} LIMIT $${n + k + 1}`
      const context = `reading ${sourceLabel(source)}`

      const page = (from: KeyTuple | null) =>
        Effect.gen(function*() {
          const limit = from === null ? source.pageSize : source.pageSize + 1
          const result = from === null
            ? yield* runSingleStatement(pool, context, firstText, [...plan.params, limit])
            : yield* runSingleStatement(pool, context, nextText, [...plan.params, ...from, limit])
          const raw = result.rows as ReadonlyArray<Record<string, Value>>
          const keys = yield* Effect.forEach(raw, (row) => keyOf(plan, row))
          let start = 0
          if (from !== null) {
            while (start < keys.length && sameKey(keys[start] as KeyTuple, from)) start++
            if (start > 1) return yield* duplicateKeyError(source, from)
          }
          for (let i = start + 1; i < keys.length; i++) {
            if (sameKey(keys[i - 1] as KeyTuple, keys[i] as KeyTuple)) return yield* duplicateKeyError(source, keys[i] as KeyTuple)
          }
          // Without a leading row to drop (the checkpoint's row is gone), the extra row waits for the next page.
          const end = Math.min(keys.length, start + source.pageSize)
          if (end === start) return [[], Option.none()] as const
          const lastKey = keys[end - 1] as KeyTuple
          const next = raw.length < limit ? Option.none() : Option.some<KeyTuple | null>(lastKey)
          return [[{ rows: stripHidden(plan, raw.slice(start, end)), lastKey }], next] as const
        })

      return Stream.paginate<KeyTuple | null, Page, PgError>(after, page)
    })
  )
