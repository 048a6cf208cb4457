import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import type { KeysetSource, KeyTuple, Page } from "@polymath/engine"
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
      INSERT INTO "${schema}".holes VALUES (1, 'a'), (2, 'b'), (NULL, 'c');
    `)
  )
}, 180_000)

afterAll(async () => {
  if (schema !== "") await dropScratchSchema(schema)
}, 180_000)

const connector = () => makePgConnector({ name: "pages-test", dsn: testDsn() })

const source = (text: string, key: ReadonlyArray<string>, pageSize: number, params: KeysetSource["statement"]["params"] = []): KeysetSource => ({
  name: "items",
  statement: { text, params },
  key,
  pageSize
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

  it.effect("appends its parameters after the statement's own", () =>
    Effect.gen(function*() {
      const c = yield* connector()
      const s = source(`SELECT id, name FROM "${schema}".items WHERE id > $1 AND name <> $2`, ["id"], 64, [100n, "item 500"])
      const pages = yield* collect(c.pages(s, ["200"]))
      const ids = pages.flatMap((p) => p.rows.map((r) => Number(r["id"])))
      expect(ids.length).toBe(799)
      expect(ids[0]).toBe(201)
      expect(ids).not.toContain(500)
      expect(yield* c.count(s.statement)).toBe(899)
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

  it.effect("a NULL key fails without retry, naming the source and the other key values", () =>
    Effect.gen(function*() {
      const c = yield* connector()
      const single = yield* Effect.flip(collect(c.pages(source(`SELECT * FROM "${schema}".holes`, ["id"], 10), null)))
      expect(single).toMatchObject({ _tag: "PgError", reason: "NullKey", isRetryable: false })
      expect(single.message).toContain("source \"items\"")
      const composite = yield* Effect.flip(collect(c.pages(source(`SELECT * FROM "${schema}".holes`, ["label", "id"], 10), null)))
      expect(composite.message).toContain("key column \"id\"")
      expect(composite.message).toContain("label=c")
    }))

  it.effect("a key column the statement does not return is a clear error", () =>
    Effect.gen(function*() {
      const c = yield* connector()
      const e = yield* Effect.flip(collect(c.pages(source(`SELECT name FROM "${schema}".items`, ["id"], 10), null)))
      expect(e).toMatchObject({ reason: "UndefinedColumn", isRetryable: false })
      expect(e.message).toContain("\"id\"")
      const bad = yield* Effect.flip(collect(c.pages(source(`SELECT id FROM "${schema}".items`, ["id"], 10), ["1", "2"])))
      expect(bad.reason).toBe("InvalidCheckpoint")
    }))

  it.effect("taking the first page reads only one page", () =>
    Effect.gen(function*() {
      const c = yield* connector()
      const first = yield* collect(Stream.take(c.pages(source(`SELECT * FROM "${schema}".items`, ["id"], 10), null), 1))
      expect(first.length).toBe(1)
      expect(first[0]?.lastKey).toEqual(["10"])
    }))

  it.effect("count and query", () =>
    Effect.gen(function*() {
      const c = yield* connector()
      expect(yield* c.count({ text: `SELECT * FROM "${schema}".items`, params: [] })).toBe(1000)
      expect(yield* c.count({ text: `SELECT * FROM "${schema}".pairs WHERE a = $1`, params: [0] })).toBe(27)
      const rows = yield* c.query({ text: `SELECT id, name FROM "${schema}".items WHERE id = ANY($1::bigint[]) ORDER BY id`, params: [[1n, 2n]] })
      expect(rows).toEqual([{ id: 1n, name: "item 1" }, { id: 2n, name: "item 2" }])
    }))
})
