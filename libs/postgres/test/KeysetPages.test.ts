import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { foldedRowsColumn } from "@polymath/engine"
import type { KeysetSource, SourceFold, KeyTuple, Page, SourceCursor } from "@polymath/engine"
import { makePgConnector } from "../src/PgConnector.ts"
import { createScratchSchema, dropScratchSchema, testDsn, withAdmin } from "./support.ts"

let schema = ""

beforeAll(async () => {
  schema = await createScratchSchema("pages")
  await withAdmin((c) =>
    c.query(`
      CREATE TABLE "${schema}".items (id bigint PRIMARY KEY, name text NOT NULL, score float8, amount numeric);
      INSERT INTO "${schema}".items
        SELECT i, 'item ' || i, i / 4.0, i * 1.5 FROM generate_series(1, 1000) AS i ORDER BY random();
      CREATE TABLE "${schema}".pairs (a int NOT NULL, b text NOT NULL, PRIMARY KEY (a, b));
      INSERT INTO "${schema}".pairs
        SELECT i % 37, 'b' || lpad(i::text, 4, '0') FROM generate_series(1, 1000) AS i ORDER BY random();
      CREATE TABLE "${schema}".events (at timestamptz NOT NULL, day date NOT NULL, n int NOT NULL);
      INSERT INTO "${schema}".events
        SELECT timestamptz '2024-03-01 12:00:00.000+00' + make_interval(secs => i / 1000000.0), date '2024-01-01' + (i / 10), i
          FROM generate_series(1, 300) AS i;
      CREATE TABLE "${schema}".holes (id int, label text);
      INSERT INTO "${schema}".holes VALUES (1, 'a'), (2, 'b'), (NULL, 'c'), (3, NULL);
      CREATE TABLE "${schema}".dups (id int NOT NULL, label text NOT NULL);
      INSERT INTO "${schema}".dups VALUES (1, 'a'), (2, 'b'), (3, 'c'), (3, 'c2'), (4, 'd'), (5, 'e');
      -- A join table: 16 roles of 7 people, keyed (wrongly) by person alone.
      CREATE TABLE "${schema}".roles (person_id int NOT NULL, movie_id int NOT NULL, PRIMARY KEY (person_id, movie_id));
      INSERT INTO "${schema}".roles VALUES
        (1, 10), (2, 10), (2, 11), (3, 12), (4, 10), (4, 11), (4, 12), (4, 13),
        (5, 14), (6, 10), (6, 15), (7, 16), (7, 17), (7, 18), (7, 19), (7, 20);
      -- Five rows per microsecond-precise timestamp, one row without a timestamp.
      CREATE TABLE "${schema}".ticks (id int, updated_at timestamptz, version int);
      INSERT INTO "${schema}".ticks
        SELECT i, timestamptz '2024-03-01 12:00:00.000001+00' + ((i - 1) / 5) * interval '1.000001 second', i / 3
          FROM generate_series(1, 20) AS i;
      INSERT INTO "${schema}".ticks VALUES (21, NULL, 99), (NULL, '2024-03-01 12:00:05+00', 1), (NULL, '2020-01-01 00:00:00+00', 1);
    `)
  )
}, 180_000)

afterAll(async () => {
  if (schema !== "") await dropScratchSchema(schema)
}, 180_000)

const connector = () => makePgConnector({ name: "pages-test", dsn: testDsn() })

const source = (
  text: string,
  key: ReadonlyArray<string>,
  pageSize: number,
  params: KeysetSource["statement"]["params"] = [],
  cursor: SourceCursor | null = null,
  name = "items"
): KeysetSource => ({
  name,
  statement: { text, params },
  key,
  pageSize,
  cursor,
  fold: null
})

const collect = <E>(pages: Stream.Stream<Page, E>) => Effect.map(Stream.runCollect(pages), (chunk) => Array.from(chunk))

describe("keyset pages", () => {
  it.effect("pages 1000 rows by 64 in key order, every row exactly once", () =>
    Effect.gen(function*() {
      const c = yield* connector()
      const pages = yield* collect(c.pages(source(`SELECT * FROM "${schema}".items`, ["id"], 64), null))
      expect(pages.map((p) => p.rows.length)).toEqual([...Array(15).fill(64), 40])
      const ids = pages.flatMap((p) => p.rows.map((r) => r["id"]))
      expect(ids).toEqual(Array.from({ length: 1000 }, (_, i) => BigInt(i + 1)))
      // Checkpoints are JSON-safe: the bigint key becomes a string.
      expect(pages.map((p) => p.lastKey)).toEqual(pages.map((p) => [String(p.rows[p.rows.length - 1]?.["id"])]))
      expect(JSON.parse(JSON.stringify(pages[0]?.lastKey))).toEqual(["64"])
      // Types: integers as bigint, numeric as string, float8 as number.
      expect(pages[0]?.rows[0]).toEqual({ id: 1n, name: "item 1", score: 0.25, amount: "1.5" })
    }))

  it.effect("stops after an exactly full last page with an empty final query", () =>
    Effect.gen(function*() {
      const c = yield* connector()
      const pages = yield* collect(c.pages(source(`SELECT * FROM "${schema}".items`, ["id"], 250), null))
      expect(pages.map((p) => p.rows.length)).toEqual([250, 250, 250, 250])
    }))

  it.effect("resumes after a checkpoint key", () =>
    Effect.gen(function*() {
      const c = yield* connector()
      const pages = yield* collect(c.pages(source(`SELECT * FROM "${schema}".items`, ["id"], 64), ["936"]))
      expect(pages.flatMap((p) => p.rows.map((r) => r["id"]))).toEqual(Array.from({ length: 64 }, (_, i) => BigInt(937 + i)))
      expect(pages.at(-1)?.lastKey).toEqual(["1000"])
    }))

  it.effect("the first page tells how many rows the pass yields (a DISTINCT join; after a checkpoint, what is left); no other page does", () =>
    Effect.gen(function*() {
      const c = yield* connector()
      // 1000 pairs over 37 values of a: a DISTINCT that a separate count would have to run again.
      const distinct = source(`SELECT DISTINCT a FROM "${schema}".pairs`, ["a"], 10)
      const pages = yield* collect(c.pages(distinct, null))
      expect(pages.map((p) => p.passRows)).toEqual([37, undefined, undefined, undefined])
      const rest = yield* collect(c.pages(distinct, ["20"]))
      expect(rest[0]?.passRows).toBe(16)
      expect(rest.flatMap((p) => p.rows).length).toBe(16)
      // A checkpoint whose row is gone is not subtracted.
      const items = source(`SELECT * FROM "${schema}".items WHERE id <> 936`, ["id"], 64)
      expect((yield* collect(c.pages(items, ["936"])))[0]?.passRows).toBe(64)
      expect(yield* collect(c.pages(items, ["1000"]))).toEqual([])
    }))

  it.effect("appends its parameters after the statement's own", () =>
    Effect.gen(function*() {
      const c = yield* connector()
      const s = source(`SELECT id, name FROM "${schema}".items WHERE id > $1 AND name <> $2`, ["id"], 64, [100n, "item 500"])
      const pages = yield* collect(c.pages(s, ["200"]))
      const ids = pages.flatMap((p) => p.rows.map((r) => Number(r["id"])))
      expect(ids.length).toBe(799)
      expect(ids[0]).toBe(201)
      expect(ids).not.toContain(500)
      expect(yield* c.count(s)).toBe(899)
    }))

  it.effect("pages on a composite key in (a, b) order, and resumes inside a group", () =>
    Effect.gen(function*() {
      const c = yield* connector()
      const text = `SELECT a, b FROM "${schema}".pairs;  -- trailing semicolon and comment are fine`
      const pages = yield* collect(c.pages(source(text, ["a", "b"], 64), null))
      const keys = pages.flatMap((p) => p.rows.map((r) => [Number(r["a"]), String(r["b"])] as const))
      const expected = yield* c.query({ text: `SELECT a, b FROM "${schema}".pairs ORDER BY a, b`, params: [] })
      expect(keys).toEqual(expected.map((r) => [Number(r["a"]), String(r["b"])]))
      expect(new Set(keys.map((k) => k.join("/"))).size).toBe(1000)
      const mid = keys[500] as readonly [number, string]
      const after: KeyTuple = [String(mid[0]), mid[1]]
      expect(pages.some((p) => p.lastKey.length === 2)).toBe(true)
      const rest = yield* collect(c.pages(source(text, ["a", "b"], 64), after))
      expect(rest.flatMap((p) => p.rows.map((r) => [Number(r["a"]), String(r["b"])]))).toEqual(keys.slice(501))
    }))

  it.effect("date/time keys keep microseconds, so equal-millisecond rows are neither lost nor repeated", () =>
    Effect.gen(function*() {
      const c = yield* connector()
      const pages = yield* collect(c.pages(source(`SELECT at, n FROM "${schema}".events`, ["at"], 7), null))
      expect(pages.flatMap((p) => p.rows.map((r) => r["n"]))).toEqual(Array.from({ length: 300 }, (_, i) => BigInt(i + 1)))
      expect(pages[0]?.lastKey).toEqual(["2024-03-01T12:00:00.000007Z"])
      expect(Object.keys(pages[0]?.rows[0] ?? {})).toEqual(["at", "n"])
      const byDay = yield* collect(c.pages(source(`SELECT day, n FROM "${schema}".events`, ["day", "n"], 25), ["2024-01-02", "19"]))
      expect(byDay.flatMap((p) => p.rows.map((r) => r["n"]))).toEqual(Array.from({ length: 281 }, (_, i) => BigInt(i + 20)))
      expect(byDay.at(-1)?.lastKey).toEqual(["2024-01-31", "300"])
    }))

  it.effect("an empty source yields no pages", () =>
    Effect.gen(function*() {
      const c = yield* connector()
      const pages = yield* collect(c.pages(source(`SELECT * FROM "${schema}".items WHERE false`, ["id"], 64), null))
      expect(pages).toEqual([])
    }))

  it.effect("rows with a NULL key are left out of pages and reported by nullKeys", () =>
    Effect.gen(function*() {
      const c = yield* connector()
      const single = source(`SELECT * FROM "${schema}".holes`, ["id"], 2)
      const pages = yield* collect(c.pages(single, null))
      expect(pages.flatMap((p) => p.rows)).toEqual([{ id: 1n, label: "a" }, { id: 2n, label: "b" }, { id: 3n, label: null }])
      expect(yield* c.count(single)).toBe(3)
      expect(yield* c.nullKeys(single, 10)).toEqual({ count: 1, rows: [{ id: null, label: "c" }] })
      expect(yield* c.nullKeys(single, 0)).toEqual({ count: 1, rows: [] })
      // A NULL in any key column counts.
      const composite = source(`SELECT * FROM "${schema}".holes`, ["label", "id"], 10)
      expect((yield* collect(c.pages(composite, null))).flatMap((p) => p.rows.map((r) => r["label"]))).toEqual(["a", "b"])
      const missing = yield* c.nullKeys(composite, 1)
      expect(missing.count).toBe(2)
      expect(missing.rows.length).toBe(1)
      expect(yield* c.nullKeys(source(`SELECT * FROM "${schema}".items`, ["id"], 10), 10)).toEqual({ count: 0, rows: [] })
    }))

  it.effect("a duplicate key within a page fails without retry, naming the source and the key", () =>
    Effect.gen(function*() {
      const c = yield* connector()
      const e = yield* Effect.flip(collect(c.pages(source(`SELECT * FROM "${schema}".dups`, ["id"], 10, [], null, "dups"), null)))
      expect(e).toMatchObject({ _tag: "PgError", reason: { _tag: "BadData", detail: "DuplicateKey" }, isRetryable: false })
      expect(e.message).toBe(
        "source \"dups\": key (id) is not unique: id=3 occurs more than once; keyset paging would skip rows. " +
          "Declare a key that identifies one row (e.g. add columns to key) or make the query return one row per key"
      )
    }))

  it.effect("a duplicate key exactly at a page boundary fails too, after the pages before it", () =>
    Effect.gen(function*() {
      const c = yield* connector()
      const dups = source(`SELECT * FROM "${schema}".dups`, ["id"], 3, [], null, "dups")
      // The first page ends on one of the two 3s; the next read starts at 3 and finds the other.
      const first = yield* collect(Stream.take(c.pages(dups, null), 1))
      expect(first[0]?.lastKey).toEqual(["3"])
      const e = yield* Effect.flip(collect(c.pages(dups, null)))
      expect(e).toMatchObject({ reason: { _tag: "BadData", detail: "DuplicateKey" }, isRetryable: false })
      expect(e.message).toContain("source \"dups\": key (id) is not unique: id=3 occurs more than once")
      // Resuming from that checkpoint finds it the same way.
      const resumed = yield* Effect.flip(collect(c.pages(dups, ["3"])))
      expect(resumed.reason).toMatchObject({ _tag: "BadData", detail: "DuplicateKey" })
      // A key that identifies one row reads all six.
      const fixed = yield* collect(c.pages(source(`SELECT * FROM "${schema}".dups`, ["id", "label"], 3, [], null, "dups"), null))
      expect(fixed.flatMap((p) => p.rows.map((r) => r["label"]))).toEqual(["a", "b", "c", "c2", "d", "e"])
    }))

  it.effect("a join table keyed by a non-unique column never loses rows silently: the read fails", () =>
    Effect.gen(function*() {
      const c = yield* connector()
      for (const pageSize of [1, 2, 3, 5, 16]) {
        const roles = source(`SELECT * FROM "${schema}".roles`, ["person_id"], pageSize, [], null, "roles")
        const e = yield* Effect.flip(collect(c.pages(roles, null)))
        expect(e.reason).toMatchObject({ _tag: "BadData", detail: "DuplicateKey" })
        expect(e.message).toContain("source \"roles\": key (person_id) is not unique: person_id=2 occurs more than once")
      }
      const whole = source(`SELECT * FROM "${schema}".roles`, ["person_id", "movie_id"], 2, [], null, "roles")
      const rows = (yield* collect(c.pages(whole, null))).flatMap((p) => p.rows)
      expect(rows.length).toBe(16)
    }))

  it.effect("duplicateKeys lists repeated key values with their counts, in key order", () =>
    Effect.gen(function*() {
      const c = yield* connector()
      const roles = source(`SELECT * FROM "${schema}".roles`, ["person_id"], 2, [], null, "roles")
      expect(yield* c.duplicateKeys(roles, 10)).toEqual([
        { key: ["2"], count: 2 },
        { key: ["4"], count: 4 },
        { key: ["6"], count: 2 },
        { key: ["7"], count: 5 }
      ])
      expect(yield* c.duplicateKeys(roles, 2)).toEqual([{ key: ["2"], count: 2 }, { key: ["4"], count: 4 }])
      expect(yield* c.duplicateKeys({ ...roles, key: ["person_id", "movie_id"] }, 10)).toEqual([])
      // Date/time keys are rendered like checkpoints.
      const days = yield* c.duplicateKeys(source(`SELECT day FROM "${schema}".events`, ["day"], 10), 1)
      expect(days).toEqual([{ key: ["2024-01-01"], count: 9 }])
    }))

  it.effect("a key column the statement does not return is a clear error", () =>
    Effect.gen(function*() {
      const c = yield* connector()
      const e = yield* Effect.flip(collect(c.pages(source(`SELECT name FROM "${schema}".items`, ["id"], 10), null)))
      expect(e).toMatchObject({ reason: { _tag: "Syntax", detail: "UndefinedColumn" }, isRetryable: false })
      expect(e.message).toContain("\"id\"")
      const bad = yield* Effect.flip(collect(c.pages(source(`SELECT id FROM "${schema}".items`, ["id"], 10), ["1", "2"])))
      expect(bad.reason).toMatchObject({ _tag: "BadData", detail: "InvalidCheckpoint" })
    }))

  it.effect("a key column of a type a checkpoint cannot hold (jsonb) fails naming the source and the column", () =>
    Effect.gen(function*() {
      const c = yield* connector()
      const e = yield* Effect.flip(collect(c.pages(source(`SELECT jsonb_build_object('id', id) AS doc, name FROM "${schema}".items`, ["doc"], 10), null)))
      expect(e).toMatchObject({ reason: { _tag: "BadData", detail: "UnsupportedKeyType" }, isRetryable: false })
      expect(e.message).toContain(`key column "doc" must be a scalar`)
    }))

  it.effect("a folded source yields one row per identity, folding each column by its rule, with its row count", () =>
    Effect.gen(function*() {
      const c = yield* connector()
      const fold: SourceFold = {
        identity: ["person_id"],
        columns: [
          { column: "movie_id", as: "movie_id", rule: "max" },
          { column: "movie_id", as: "first_movie", rule: "first" },
          { column: "movie_id", as: "last_movie", rule: "last" },
          { column: "least", as: "least", rule: "min" }
        ],
        sourceKey: ["person_id", "movie_id"]
      }
      // One column may feed several rules.
      const text = `SELECT person_id, movie_id, CASE WHEN movie_id = 10 THEN NULL ELSE movie_id END AS least FROM "${schema}".roles`
      const folded: KeysetSource = { ...source(text, ["person_id"], 2, [], null, "roles"), fold }
      expect(yield* c.count(folded)).toBe(7)
      const rows = (yield* collect(c.pages(folded, null))).flatMap((p) => p.rows)
      const byPerson = Object.fromEntries(rows.map((r) => [String(r["person_id"]), [r["movie_id"], r["first_movie"], r["last_movie"], r["least"], r[foldedRowsColumn]].map(String)]))
      expect(byPerson).toEqual({
        // max, first and last in (person_id, movie_id) order, min ignoring NULL, rows folded
        "1": ["10", "10", "10", "null", "1"],
        "2": ["11", "10", "11", "11", "2"],
        "3": ["12", "12", "12", "12", "1"],
        "4": ["13", "10", "13", "11", "4"],
        "5": ["14", "14", "14", "14", "1"],
        "6": ["15", "10", "15", "15", "2"],
        "7": ["20", "16", "20", "16", "5"]
      })
      // Resuming inside the folded stream yields every remaining identity once.
      const rest = (yield* collect(c.pages(folded, ["4"]))).flatMap((p) => p.rows.map((r) => String(r["person_id"])))
      expect(rest).toEqual(["5", "6", "7"])
      // Rows whose identity is NULL are not folded into a NULL group: they are reported like NULL keys.
      const holes: KeysetSource = {
        ...source(`SELECT id, label FROM "${schema}".holes`, ["id"], 10, [], null, "holes"),
        fold: { identity: ["id"], columns: [{ column: "label", as: "label", rule: "last" }], sourceKey: ["label"] }
      }
      const nulls = yield* c.nullKeys(holes, 10)
      expect(nulls.count).toBe(1)
      expect((yield* collect(c.pages(holes, null))).flatMap((p) => p.rows.map((r) => r["id"]))).toEqual([1n, 2n, 3n])
    }))

  it.effect("taking the first page reads only one page", () =>
    Effect.gen(function*() {
      const c = yield* connector()
      const first = yield* collect(Stream.take(c.pages(source(`SELECT * FROM "${schema}".items`, ["id"], 10), null), 1))
      expect(first.length).toBe(1)
      expect(first[0]?.lastKey).toEqual(["10"])
    }))

  it.effect("resuming from any page's checkpoint yields every remaining row exactly once", () =>
    Effect.gen(function*() {
      const c = yield* connector()
      const s = source(`SELECT id FROM "${schema}".items WHERE id % 7 <> 0`, ["id"], 50)
      const all = (yield* collect(c.pages(s, null))).flatMap((p) => p.rows.map((r) => r["id"]))
      expect(all.length).toBe(858)
      const pages = yield* collect(c.pages(s, null))
      for (const p of pages.slice(0, 5)) {
        const rest = (yield* collect(c.pages(s, p.lastKey))).flatMap((q) => q.rows.map((r) => r["id"]))
        const at = all.findIndex((id) => String(id) === p.lastKey[0])
        expect(rest).toEqual(all.slice(at + 1))
      }
      // A checkpoint whose row has gone since (7 is filtered out) resumes right after it.
      const after7 = (yield* collect(c.pages(s, ["7"]))).flatMap((p) => p.rows.map((r) => r["id"]))
      expect(after7).toEqual(all.slice(all.indexOf(8n)))
      expect(yield* collect(c.pages(s, ["1000"]))).toEqual([])
    }))

  it.effect("a timestamptz cursor reads rows at or past `from`; cursorMax round-trips exactly", () =>
    Effect.gen(function*() {
      const c = yield* connector()
      const text = `SELECT * FROM "${schema}".ticks`
      const all = source(text, ["id"], 4, [], { column: "updated_at", from: null }, "ticks")
      // from null: every row with a key and a cursor value.
      const ids = (yield* collect(c.pages(all, null))).flatMap((p) => p.rows.map((r) => Number(r["id"])))
      expect(ids).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
      expect(yield* c.count(all)).toBe(20)
      // The NULL-cursor row and the NULL-key rows are reported, not read.
      const skipped = yield* c.nullKeys(all, 10)
      expect(skipped.count).toBe(3)
      expect(skipped.rows.map((r) => r["id"])).toEqual([21n, null, null])

      const max = yield* c.cursorMax(all)
      expect(max).toMatch(/^2024-03-01 1\d:00:03\.000004/)
      const latest = source(text, ["id"], 2, [], { column: "updated_at", from: max }, "ticks")
      const rows = (yield* collect(c.pages(latest, null))).flatMap((p) => p.rows)
      expect(rows.map((r) => Number(r["id"]))).toEqual([16, 17, 18, 19, 20])
      expect(yield* c.count(latest)).toBe(5)
      expect(yield* c.cursorMax(latest)).toBe(max)
      // Past `from`, only the NULL cursor and the newer NULL key count.
      const late = yield* c.nullKeys(latest, 10)
      expect(late.count).toBe(2)
      expect(late.rows.map((r) => r["id"])).toEqual([21n, null])
      // Nothing at or past a later bound: no rows, no max.
      const none = source(text, ["id"], 2, [], { column: "updated_at", from: "2030-01-01 00:00:00+00" }, "ticks")
      expect(yield* collect(c.pages(none, null))).toEqual([])
      expect(yield* c.cursorMax(none)).toBeNull()
    }))

  it.effect("an integer cursor, with the statement's own parameters", () =>
    Effect.gen(function*() {
      const c = yield* connector()
      const s = source(`SELECT * FROM "${schema}".ticks WHERE id <= $1`, ["id"], 3, [19], { column: "version", from: "5" }, "ticks")
      const ids = (yield* collect(c.pages(s, null))).flatMap((p) => p.rows.map((r) => Number(r["id"])))
      expect(ids).toEqual([15, 16, 17, 18, 19])
      expect(yield* c.cursorMax(s)).toBe("6")
      expect(yield* c.count(s)).toBe(5)
      const resumed = (yield* collect(c.pages(s, ["16"]))).flatMap((p) => p.rows.map((r) => Number(r["id"])))
      expect(resumed).toEqual([17, 18, 19])
      const missing = yield* Effect.flip(c.count({ ...s, cursor: { column: "changed_at", from: null } }))
      expect(missing).toMatchObject({ reason: { _tag: "Syntax", detail: "UndefinedColumn" }, isRetryable: false })
      expect(missing.message).toContain("cursor column \"changed_at\"")
    }))

  it.effect("describe reports the statement's columns without reading rows", () =>
    Effect.gen(function*() {
      const c = yield* connector()
      const d = yield* c.describe({ text: `SELECT id, name AS label, $1::int AS n FROM "${schema}".items;`, params: [7] })
      expect(d).toEqual({ columns: ["id", "label", "n"] })
      const e = yield* Effect.flip(c.describe({ text: `SELECT * FROM "${schema}".nope`, params: [] }))
      expect(e.reason).toMatchObject({ _tag: "Syntax", detail: "UndefinedTable" })
    }))

  it.effect("count and query", () =>
    Effect.gen(function*() {
      const c = yield* connector()
      expect(yield* c.count(source(`SELECT * FROM "${schema}".items`, ["id"], 10))).toBe(1000)
      expect(yield* c.count(source(`SELECT * FROM "${schema}".pairs WHERE a = $1`, ["a", "b"], 10, [0]))).toBe(27)
      const rows = yield* c.query({ text: `SELECT id, name FROM "${schema}".items WHERE id = ANY($1::bigint[]) ORDER BY id`, params: [[1n, 2n]] })
      expect(rows).toEqual([{ id: 1n, name: "item 1" }, { id: 2n, name: "item 2" }])
    }))

  it.effect("query runs read-only: a writing statement fails with ReadOnly and changes nothing", () =>
    Effect.gen(function*() {
      const c = yield* connector()
      const e = yield* Effect.flip(c.query({ text: `WITH d AS (DELETE FROM "${schema}".items RETURNING 1) SELECT count(*) FROM d`, params: [] }))
      expect(e).toMatchObject({ _tag: "PgError", reason: { _tag: "Unavailable", detail: "ReadOnly" }, isRetryable: false, sqlState: "25006" })
      expect(e.message).toMatch(
        /^querying connection "pages-test": the statement tried to write \(cannot execute \w+ in a read-only transaction\); verification checks must only read$/
      )
      const plain = yield* Effect.flip(c.query({ text: `DELETE FROM "${schema}".items WHERE id = $1`, params: [1n] }))
      expect(plain.reason).toMatchObject({ _tag: "Unavailable", detail: "ReadOnly" })
      // A second statement cannot end the read-only transaction either.
      const smuggled = yield* Effect.flip(c.query({ text: `SELECT 1; COMMIT; DELETE FROM "${schema}".items`, params: [] }))
      expect(smuggled.reason).toMatchObject({ _tag: "Syntax", detail: "SyntaxError" })
      expect(yield* c.query({ text: `SELECT count(*) AS n FROM "${schema}".items`, params: [] })).toEqual([{ n: 1000n }])
    }))
})

describe("split ranges (a source cut across workers)", () => {
  /** Every range's rows, read as a worker reads its range: after the cut before it, through its own cut. */
  const readRanges = (c: Effect.Success<ReturnType<typeof connector>>, src: KeysetSource, cuts: ReadonlyArray<KeyTuple>) =>
    Effect.forEach([null, ...cuts].map((after, i) => ({ after, through: cuts[i] ?? null })), ({ after, through }) =>
      Effect.map(collect(c.pages({ ...src, through }, after)), (pages) => pages.flatMap((p) => p.rows)))

  it.effect("cuts 1000 rows into 7 ranges of 142-143 that cover every row once, in order", () =>
    Effect.gen(function*() {
      const c = yield* connector()
      const src = source(`SELECT * FROM "${schema}".items`, ["id"], 50)
      const cuts = yield* c.splitPoints(src, 7)
      expect(cuts.length).toBe(6)
      const ranges = yield* readRanges(c, src, cuts)
      expect(ranges.map((r) => r.length)).toEqual([143, 143, 143, 143, 143, 143, 142])
      expect(ranges.flat().map((r) => r["id"])).toEqual(Array.from({ length: 1000 }, (_, i) => BigInt(i + 1)))
      // A range's pass counts only its own rows.
      const first = yield* collect(c.pages({ ...src, through: cuts[0]! }, null))
      expect(first[0]?.passRows).toBe(143)
    }))

  it.effect("composite and date/time keys: the ranges partition the rows exactly", () =>
    Effect.gen(function*() {
      const c = yield* connector()
      for (const src of [source(`SELECT * FROM "${schema}".pairs`, ["a", "b"], 64), source(`SELECT * FROM "${schema}".events`, ["at"], 64), source(`SELECT * FROM "${schema}".events`, ["day", "n"], 64)]) {
        const all = (yield* collect(c.pages(src, null))).flatMap((p) => p.rows)
        const ranges = yield* readRanges(c, src, yield* c.splitPoints(src, 4))
        expect(ranges.length).toBe(4)
        expect(ranges.flat()).toEqual(all)
        expect(Math.max(...ranges.map((r) => r.length)) - Math.min(...ranges.map((r) => r.length))).toBeLessThanOrEqual(src.key.length === 1 ? 1 : 3)
      }
    }))

  it.effect("fewer rows than parts: one range per row at most; one part or an empty source: no cut", () =>
    Effect.gen(function*() {
      const c = yield* connector()
      const small = source(`SELECT * FROM "${schema}".dups WHERE id < 3`, ["id"], 10)
      expect(yield* c.splitPoints(small, 8)).toEqual([["1"]])
      expect(yield* c.splitPoints(source(`SELECT * FROM "${schema}".items`, ["id"], 10), 1)).toEqual([])
      expect(yield* c.splitPoints(source(`SELECT * FROM "${schema}".items WHERE false`, ["id"], 10), 4)).toEqual([])
    }))

  it.effect("a range bound with the wrong number of values is refused, not read", () =>
    Effect.gen(function*() {
      const c = yield* connector()
      const e = yield* Effect.flip(collect(c.pages({ ...source(`SELECT * FROM "${schema}".pairs`, ["a", "b"], 10), through: ["1"] }, null)))
      expect(e.message).toMatch(/a range bound has 1 value\(s\) but the key has 2 column\(s\)/)
    }))
})

