import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { makePgConnector } from "../src/PgConnector.ts"
import { tuplesPerStatement } from "../src/SourceFilter.ts"
import { createScratchSchema, dropScratchSchema, testDsn, withAdmin } from "./support.ts"

let schema = ""

beforeAll(async () => {
  schema = await createScratchSchema("filter")
  await withAdmin((c) =>
    c.query(`
      CREATE TABLE "${schema}".items (id int PRIMARY KEY, kind text NOT NULL, label text);
      INSERT INTO "${schema}".items SELECT i, 'k' || (i % 3), 'item ' || i FROM generate_series(1, 1500) AS i;
    `)
  )
}, 180_000)

afterAll(async () => {
  if (schema !== "") await dropScratchSchema(schema)
}, 180_000)

const connector = () => makePgConnector({ name: "filter-test", dsn: testDsn() })

describe("rowsMatching", () => {
  it.effect("returns exactly the rows whose columns equal one of the tuples, across statements, after the source's own parameters", () =>
    Effect.scoped(Effect.gen(function*() {
      const pg = yield* connector()
      // The source keeps its own parameter and its trailing terminator; the tuples come after it.
      const statement = { text: `SELECT id, kind, label FROM "${schema}".items WHERE id > $1;`, params: [10] }
      const wanted = Array.from({ length: tuplesPerStatement * 2 + 7 }, (_, i) => i + 1)
      const rows = yield* pg.rowsMatching(statement, ["id"], wanted.map((id) => [id]))
      expect(rows.map((r) => Number(r["id"])).sort((a, b) => a - b)).toEqual(wanted.filter((id) => id > 10))
      // Several columns, values as text typed by the server from the columns; a tuple no row has is no row.
      const pairs = yield* pg.rowsMatching(statement, ["id", "kind"], [["12", "k0"], [13, "k0"], [14, "k2"], [99999, "k0"]])
      expect(pairs.map((r) => [Number(r["id"]), r["kind"]])).toEqual([[12, "k0"], [14, "k2"]])
      expect(yield* pg.rowsMatching(statement, ["id"], [])).toEqual([])
    })))

  it.effect("values travel as parameters: a quote in a value is data", () =>
    Effect.scoped(Effect.gen(function*() {
      const pg = yield* connector()
      const rows = yield* pg.rowsMatching({ text: `SELECT id, label FROM "${schema}".items`, params: [] }, ["label"], [["item 1' OR '1'='1"], ["item 2"]])
      expect(rows.map((r) => Number(r["id"]))).toEqual([2])
    })))
})
