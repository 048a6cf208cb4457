import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type pg from "pg"
import type { VectorTarget } from "@polymath/engine"
import { pgConnectorFromPool } from "../src/PgConnector.ts"
import { acquirePgPool } from "../src/PgPool.ts"
import { vectorText } from "../src/VectorText.ts"
import { createScratchSchema, dropScratchSchema, ensureVectorExtension, testDsn, withAdmin } from "./support.ts"

let schema = ""

beforeAll(async () => {
  await ensureVectorExtension()
  schema = await createScratchSchema("vectors")
  await withAdmin((c) =>
    c.query(`
      CREATE TABLE "${schema}".docs (id bigint PRIMARY KEY, embedding vector(3), model text, embedded_at timestamptz, note text);
      INSERT INTO "${schema}".docs (id) SELECT generate_series(1, 10);
      CREATE TABLE "${schema}"."Mixed Case" (key uuid PRIMARY KEY, "Vec" vector, tag text);
      INSERT INTO "${schema}"."Mixed Case" (key) VALUES
        ('00000000-0000-0000-0000-000000000001'), ('00000000-0000-0000-0000-000000000002');
      CREATE TABLE "${schema}".wide (id int PRIMARY KEY, embedding vector(384));
      INSERT INTO "${schema}".wide (id) SELECT generate_series(1, 500);
    `)
  )
}, 180_000)

afterAll(async () => {
  if (schema !== "") await dropScratchSchema(schema)
}, 180_000)

/** A connector whose pool counts the statements it runs, to prove one statement per batch. */
const countingConnector = Effect.gen(function*() {
  const pool = yield* acquirePgPool({ dsn: testDsn() })
  const statements: Array<string> = []
  const query = pool.query.bind(pool) as (...args: Array<unknown>) => Promise<pg.QueryResult>
  ;(pool as unknown as { query: (...args: Array<unknown>) => Promise<pg.QueryResult> }).query = (...args) => {
    statements.push(String(args[0]))
    return query(...args)
  }
  return { connector: pgConnectorFromPool("vectors-test", pool), statements }
})

const docs = (overrides: Partial<VectorTarget> = {}): VectorTarget => ({
  table: `${schema}.docs`,
  key: "id",
  vector: "embedding",
  set: [],
  force: false,
  ...overrides
})

const vec = (...xs: Array<number>) => Float32Array.from(xs)

describe("vector targets", () => {
  it.effect("describes the declared dimension, or null for an untyped vector", () =>
    Effect.gen(function*() {
      const { connector: c } = yield* countingConnector
      expect(yield* c.describeVectorTarget(docs())).toEqual({ dimensions: 3 })
      expect(yield* c.describeVectorTarget({ table: `${schema}.Mixed Case`, key: "key", vector: "Vec", set: [], force: false })).toEqual({
        dimensions: null
      })
      expect(yield* c.describeVectorTarget({ ...docs(), table: `${schema}.wide` })).toEqual({ dimensions: 384 })
    }))

  it.effect("a missing table, column, or a non-vector column fails without retry", () =>
    Effect.gen(function*() {
      const { connector: c } = yield* countingConnector
      const table = yield* Effect.flip(c.describeVectorTarget(docs({ table: `${schema}.nope` })))
      expect(table).toMatchObject({ _tag: "PgError", reason: "UndefinedTable", isRetryable: false })
      expect(table.message).toContain(`${schema}.nope`)
      const noSchema = yield* Effect.flip(c.describeVectorTarget(docs({ table: "no_such_schema_x.docs" })))
      expect(noSchema.reason).toBe("UndefinedTable")
      const column = yield* Effect.flip(c.describeVectorTarget(docs({ vector: "embeddings" })))
      expect(column).toMatchObject({ reason: "UndefinedColumn", isRetryable: false })
      expect(column.message).toContain("\"embeddings\"")
      const setColumn = yield* Effect.flip(c.describeVectorTarget(docs({ set: [{ column: "modle", value: "x" }] })))
      expect(setColumn.message).toContain("\"modle\"")
      const notVector = yield* Effect.flip(c.describeVectorTarget(docs({ vector: "note" })))
      expect(notVector.reason).toBe("NotAVectorColumn")
      const write = yield* Effect.flip(c.writeVectors(docs({ table: `${schema}.nope` }), { ids: [1n], vectors: [vec(1, 2, 3)] }))
      expect(write.reason).toBe("UndefinedTable")
    }))

  it.effect("writes a batch in one statement, then skips it, then overwrites with force", () =>
    Effect.gen(function*() {
      const { connector: c, statements } = yield* countingConnector
      const ids = [1n, 2n, 3n, 4n, 5n]
      const vectors = ids.map((id) => vec(Number(id), 0.1, -1 / 3))
      yield* c.describeVectorTarget(docs())
      statements.length = 0
      expect(yield* c.writeVectors(docs(), { ids, vectors })).toEqual({ written: 5, skipped: 0 })
      expect(statements.length).toBe(1)
      expect(statements[0]).toMatch(/^UPDATE/)
      expect(yield* c.writeVectors(docs(), { ids, vectors })).toEqual({ written: 0, skipped: 5 })
      expect(statements.length).toBe(2)

      const stored = yield* c.query({ text: `SELECT id, embedding::text AS e FROM "${schema}".docs WHERE id <= 5 ORDER BY id`, params: [] })
      expect(stored.map((r) => r["e"])).toEqual(vectors.map((v) => vectorText(v)))
      // Values round-trip exactly as float32.
      const parsed = (stored[0]?.["e"] as string).slice(1, -1).split(",").map(Number)
      expect(Float32Array.from(parsed)).toEqual(vectors[0])

      const again = ids.map(() => vec(9, 9, 9))
      expect(yield* c.writeVectors(docs({ force: true }), { ids, vectors: again })).toEqual({ written: 5, skipped: 0 })
      const after = yield* c.query({ text: `SELECT count(*) AS n FROM "${schema}".docs WHERE embedding = '[9,9,9]'`, params: [] })
      expect(after).toEqual([{ n: 5n }])
    }))

  it.effect("writes constant set columns as parameters and counts unknown ids as skipped", () =>
    Effect.gen(function*() {
      const { connector: c } = yield* countingConnector
      const at = new Date("2024-05-01T10:00:00.000Z")
      const target = docs({ set: [{ column: "model", value: "bge-small; DROP TABLE x" }, { column: "embedded_at", value: at }] })
      const result = yield* c.writeVectors(target, { ids: [6n, 7n, 999n], vectors: [vec(1, 1, 1), vec(2, 2, 2), vec(3, 3, 3)] })
      expect(result).toEqual({ written: 2, skipped: 1 })
      const rows = yield* c.query({ text: `SELECT id, model, embedded_at FROM "${schema}".docs WHERE id IN (6, 7) ORDER BY id`, params: [] })
      expect(rows).toEqual([
        { id: 6n, model: "bge-small; DROP TABLE x", embedded_at: at },
        { id: 7n, model: "bge-small; DROP TABLE x", embedded_at: at }
      ])
      expect(yield* c.writeVectors(target, { ids: [], vectors: [] })).toEqual({ written: 0, skipped: 0 })
    }))

  it.effect("quotes mixed-case names and types the ids by the key column (uuid)", () =>
    Effect.gen(function*() {
      const { connector: c } = yield* countingConnector
      const target: VectorTarget = { table: `${schema}.Mixed Case`, key: "key", vector: "Vec", set: [{ column: "tag", value: "t" }], force: false }
      const result = yield* c.writeVectors(target, {
        ids: ["00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-000000000002"],
        vectors: [vec(0.5, 0.25), vec(1e-8, -2, 3, 4)]
      })
      expect(result).toEqual({ written: 2, skipped: 0 })
      const rows = yield* c.query({ text: `SELECT "Vec"::text AS v FROM "${schema}"."Mixed Case" ORDER BY key`, params: [] })
      expect(rows.map((r) => r["v"])).toEqual(["[0.5,0.25]", "[1e-08,-2,3,4]"])
    }))

  it.effect("a wrong dimension or a NaN fails without retry", () =>
    Effect.gen(function*() {
      const { connector: c } = yield* countingConnector
      const dim = yield* Effect.flip(c.writeVectors(docs({ force: true }), { ids: [8n], vectors: [vec(1, 2)] }))
      expect(dim).toMatchObject({ reason: "DataError", isRetryable: false })
      expect(dim.message).toMatch(/SQLSTATE 22/)
      const nan = yield* Effect.flip(c.writeVectors(docs({ force: true }), { ids: [8n], vectors: [vec(1, NaN, 2)] }))
      expect(nan).toMatchObject({ reason: "InvalidVector", isRetryable: false })
      expect(nan.message).toContain("id 8")
      const mismatch = yield* Effect.flip(c.writeVectors(docs(), { ids: [8n, 9n], vectors: [vec(1, 2, 3)] }))
      expect(mismatch.reason).toBe("InvalidBatch")
    }))

  it.effect("writes 500 384-dimensional vectors in one statement", () =>
    Effect.gen(function*() {
      const { connector: c, statements } = yield* countingConnector
      const target = docs({ table: `${schema}.wide` })
      yield* c.describeVectorTarget(target)
      const ids = Array.from({ length: 500 }, (_, i) => BigInt(i + 1))
      const vectors = ids.map((id) => Float32Array.from({ length: 384 }, (_, j) => Math.sin(Number(id) * 31 + j)))
      statements.length = 0
      expect(yield* c.writeVectors(target, { ids, vectors })).toEqual({ written: 500, skipped: 0 })
      expect(statements.length).toBe(1)
      const check = yield* c.query({
        text: `SELECT embedding::text AS e FROM "${schema}".wide WHERE id = 250`,
        params: []
      })
      const back = Float32Array.from((check[0]?.["e"] as string).slice(1, -1).split(",").map(Number))
      expect(back).toEqual(vectors[249])
    }))
})
