import { Effect, Option, Stream } from "effect"
import type { Scope } from "effect"
import type pg from "pg"
import { Reason } from "@polymath/engine"
import type { KeysetSource, KeyTuple, Page, Value } from "@polymath/engine"
import { pgFailure } from "./PgError.ts"
import type { PgError } from "./PgError.ts"
import { checkedOutClient, runSingleStatement } from "./PgPool.ts"
import { planSource, sourceLabel } from "./Source.ts"
import { keysOf, selectWithKeys, stripHidden } from "./SourceKeys.ts"

// Checkpoint tuples are compared as text: a checkpoint read back from JSON may hold a
// number where the page has the same bigint rendered as a string.
const sameKey = (a: KeyTuple, b: KeyTuple): boolean => a.every((v, i) => String(v) === String(b[i]))

/** The failure for a key value that occurs more than once: keyset paging would skip rows. */
export const duplicateKeyError = (source: KeysetSource, key: KeyTuple): PgError =>
  pgFailure(
    new Reason.BadData({ detail: "DuplicateKey" }),
    `${sourceLabel(source)}: key (${source.key.join(", ")}) is not unique: ` +
      `${source.key.map((k, i) => `${k}=${String(key[i])}`).join(", ")} occurs more than once; keyset paging would skip rows. ` +
      "Declare a key that identifies one row (e.g. add columns to key) or make the query return one row per key"
  )

const validateCheckpoint = (source: KeysetSource, after: KeyTuple | null): Effect.Effect<void, PgError> =>
  after !== null && after.length !== source.key.length
    ? Effect.fail(
      pgFailure(
        new Reason.BadData({ detail: "InvalidCheckpoint" }),
        `${sourceLabel(source)}: checkpoint has ${after.length} key value(s) but the key has ${source.key.length} column(s)`
      )
    )
    : Effect.void

const CURSOR = "polymath_pages"

// One connection, one snapshot and one execution of the query for the whole pass: re-running
// a DISTINCT or GROUP BY join for every page made reading cost grow with the square of the
// source. The pass's row count comes from the same execution (MOVE to the end, then back to
// the start of a SCROLL cursor): a separate count(*) ran the whole join once more per unit.
// Ending the read transaction (on release) closes the cursor.
const openCursor = (pool: pg.Pool, context: string, text: string, params: ReadonlyArray<unknown>): Effect.Effect<{ client: pg.PoolClient; rows: number }, PgError, Scope.Scope> =>
  Effect.gen(function*() {
    const client = yield* checkedOutClient(pool, context, "ROLLBACK")
    yield* runSingleStatement(client, context, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    yield* runSingleStatement(client, context, `DECLARE ${CURSOR} SCROLL CURSOR FOR ${text}`, params)
    const moved = yield* runSingleStatement(client, context, `MOVE FORWARD ALL IN ${CURSOR}`)
    yield* runSingleStatement(client, context, `MOVE ABSOLUTE 0 IN ${CURSOR}`)
    return { client, rows: moved.rowCount ?? 0 }
  })

/**
 * Streams a source in key order through one server-side cursor over the source's
 * effective rows (non-null keys, at or past the cursor; see `planSource`), in a read-only
 * REPEATABLE READ transaction, fetching a page at a time:
 *
 *     DECLARE c SCROLL CURSOR FOR SELECT src.* FROM <source> [WHERE (k1, k2) >= ($a, $b)] ORDER BY k1, k2
 *     MOVE FORWARD ALL IN c; MOVE ABSOLUTE 0 IN c      -- the pass's row count, told on its first page
 *     FETCH FORWARD $page FROM c
 *
 * Equal keys are adjacent, so each row's key is compared with the one before it, across
 * fetches too: a key that is not unique fails the read instead of letting a resume skip
 * rows. Resuming after a checkpoint reads from that key inclusive and drops the one
 * leading row equal to it (a second one proves the key is not unique). Only one page is
 * ever in memory; the stream ends after a short fetch, and closing it ends the transaction.
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
      const text = after === null
        ? `SELECT ${select} FROM ${plan.from} ORDER BY ${order}`
        : `SELECT ${select} FROM ${plan.from} WHERE ${boundary} ORDER BY ${order}`
      const context = `reading ${sourceLabel(source)}`
      const { client, rows: cursorRows } = yield* openCursor(pool, context, text, after === null ? plan.params : [...plan.params, ...after])
      let previous: KeyTuple | null = after
      let leading = after !== null
      // The cursor's rows less the checkpoint's own row, told once, on the first page handed out.
      let skipped = 0
      let told = false

      const page = (_: null) =>
        Effect.gen(function*() {
          // The first fetch after a checkpoint holds the checkpoint's own row too.
          const limit = leading ? source.pageSize + 1 : source.pageSize
          const result = yield* runSingleStatement(client, context, `FETCH FORWARD ${limit} FROM ${CURSOR}`)
          const raw = result.rows as ReadonlyArray<Record<string, Value>>
          const keys = yield* keysOf(plan, raw)
          let start = 0
          if (leading) {
            while (start < keys.length && sameKey(keys[start] as KeyTuple, after!)) start++
            if (start > 1) return yield* duplicateKeyError(source, after!)
            leading = false
            skipped = start
          }
          // `previous` is the last key handed out, or the checkpoint's when resuming.
          for (let i = start; i < keys.length; i++) {
            const key = keys[i] as KeyTuple
            if (previous !== null && sameKey(previous, key)) return yield* duplicateKeyError(source, key)
            previous = key
          }
          const more = raw.length === limit ? Option.some<null>(null) : Option.none<null>()
          if (start === raw.length) return [[], more] as const
          const rows = stripHidden(plan, raw.slice(start))
          if (told) return [[{ rows, lastKey: previous! }], more] as const
          told = true
          return [[{ rows, lastKey: previous!, passRows: cursorRows - skipped }], more] as const
        })

      return Stream.paginate<null, Page, PgError>(null, page)
    })
  )
