import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { randomUUID } from "node:crypto"
import { Effect } from "effect"
import type pg from "pg"
import type { EmbedStatus, Value, VectorBatch, VectorTarget } from "@polymath/engine"
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
      CREATE TABLE "${schema}".states (id bigint PRIMARY KEY, embedding vector(2));
      INSERT INTO "${schema}".states (id) SELECT generate_series(1, 6);
      CREATE TABLE "${schema}".multi (k int NOT NULL, n int NOT NULL, embedding vector(2));
      INSERT INTO "${schema}".multi VALUES (1, 1), (1, 2), (2, 3);
    `)
  )
}, 180_000)

afterAll(async () => {
  if (schema === "") return
  await dropScratchSchema(schema)
  // The embed state of these targets lives in the shared ledger schema.
  await withAdmin((c) => c.query("DELETE FROM polymath_etl.embeddings WHERE starts_with(target, $1)", [`${schema}.`])).catch(() => undefined)
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
  ...overrides
})

const vec = (...xs: Array<number>) => Float32Array.from(xs)

const hash = (s: string) => Uint8Array.from(Buffer.from(s.padEnd(32, "#")))

const runId = randomUUID()

/** A batch with a distinct hash per id (`h:<id>`), written by model `m`. */
const batch = (ids: ReadonlyArray<Value>, vectors: ReadonlyArray<Float32Array>, model = "m"): VectorBatch => ({
  ids,
  vectors,
  hashes: ids.map((id) => hash(`h:${String(id)}`)),
  model,
  runId
})

const stateRows = (target: string) =>
  Effect.promise(() =>
    withAdmin(async (c) =>
      (await c.query(
        "SELECT key, model, encode(text_hash, 'escape') AS hash, run_id::text AS run_id FROM polymath_etl.embeddings WHERE target = $1 ORDER BY key",
        [target]
      )).rows as Array<{ key: string; model: string; hash: string; run_id: string }>
    )
  )

const admin = (sql: string) => Effect.promise(() => withAdmin((c) => c.query(sql)))

describe("vector targets", () => {
  it.effect("describes the declared dimension, or null for an untyped vector", () =>
    Effect.gen(function*() {
      const { connector: c } = yield* countingConnector
      expect(yield* c.describeVectorTarget(docs())).toEqual({ dimensions: 3 })
      expect(yield* c.describeVectorTarget({ table: `${schema}.Mixed Case`, key: "key", vector: "Vec", set: [] })).toEqual({
        dimensions: null
      })
      expect(yield* c.describeVectorTarget({ ...docs(), table: `${schema}.wide` })).toEqual({ dimensions: 384 })
    }))

  it.effect("a missing table, column, or a non-vector column fails without retry", () =>
    Effect.gen(function*() {
      const { connector: c } = yield* countingConnector
      const table = yield* Effect.flip(c.describeVectorTarget(docs({ table: `${schema}.nope` })))
      expect(table).toMatchObject({ _tag: "PgError", reason: { _tag: "Syntax", detail: "UndefinedTable" }, isRetryable: false })
      expect(table.message).toContain(`${schema}.nope`)
      const noSchema = yield* Effect.flip(c.describeVectorTarget(docs({ table: "no_such_schema_x.docs" })))
      expect(noSchema.reason).toMatchObject({ _tag: "Syntax", detail: "UndefinedTable" })
      const column = yield* Effect.flip(c.describeVectorTarget(docs({ vector: "embeddings" })))
      expect(column).toMatchObject({ reason: { _tag: "Syntax", detail: "UndefinedColumn" }, isRetryable: false })
      expect(column.message).toContain("\"embeddings\"")
      const setColumn = yield* Effect.flip(c.describeVectorTarget(docs({ set: [{ column: "modle", value: "x" }] })))
      expect(setColumn.message).toContain("\"modle\"")
      const notVector = yield* Effect.flip(c.describeVectorTarget(docs({ vector: "note" })))
      expect(notVector.reason).toMatchObject({ _tag: "Unavailable", detail: "NotAVectorColumn" })
      const write = yield* Effect.flip(c.writeVectors(docs({ table: `${schema}.nope` }), batch([1n], [vec(1, 2, 3)])))
      expect(write.reason).toMatchObject({ _tag: "Syntax", detail: "UndefinedTable" })
      const status = yield* Effect.flip(c.embedStatus(docs({ table: `${schema}.nope` }), "m", [{ id: 1n, hash: hash("x") }]))
      expect(status.reason).toMatchObject({ _tag: "Syntax", detail: "UndefinedTable" })
    }))

  it.effect("writes vectors and their embed state in one statement, leaving other rows untouched", () =>
    Effect.gen(function*() {
      const { connector: c, statements } = yield* countingConnector
      const ids = [1n, 2n, 3n, 4n, 5n]
      const vectors = ids.map((id) => vec(Number(id), 0.1, -1 / 3))
      // Warms the target lookup and the ledger schema check, so only the write is counted.
      yield* c.embedStatus(docs(), "m", [])
      yield* c.embedStatus(docs(), "m", [{ id: 1n, hash: hash("x") }])
      statements.length = 0
      expect(yield* c.writeVectors(docs(), batch(ids, vectors))).toBe(5)
      expect(statements.length).toBe(1)
      expect(statements[0]).toMatch(/^WITH b AS/)

      const stored = yield* c.query({ text: `SELECT id, embedding::text AS e FROM "${schema}".docs ORDER BY id`, params: [] })
      expect(stored.map((r) => r["e"])).toEqual([...vectors.map((v) => vectorText(v)), null, null, null, null, null])
      // Values round-trip exactly as float32.
      const parsed = (stored[0]?.["e"] as string).slice(1, -1).split(",").map(Number)
      expect(Float32Array.from(parsed)).toEqual(vectors[0])
      expect(yield* stateRows(`${schema}.docs.embedding`)).toEqual(
        ["1", "2", "3", "4", "5"].map((key) => ({ key, model: "m", hash: `h:${key}`.padEnd(32, "#"), run_id: runId }))
      )

      // No IS NULL guard: the engine decides what to write, and a rewrite replaces the state.
      const again = ids.map(() => vec(9, 9, 9))
      const other = randomUUID()
      expect(yield* c.writeVectors(docs(), { ...batch(ids.slice(0, 2), again.slice(0, 2), "m2"), runId: other })).toBe(2)
      expect(yield* c.query({ text: `SELECT count(*) AS n FROM "${schema}".docs WHERE embedding = '[9,9,9]'`, params: [] })).toEqual([{ n: 2n }])
      const state = yield* stateRows(`${schema}.docs.embedding`)
      expect(state.slice(0, 3).map((r) => [r.key, r.model, r.run_id])).toEqual([["1", "m2", other], ["2", "m2", other], ["3", "m", runId]])
    }))

  it.effect("a failed batch writes neither vectors nor state", () =>
    Effect.gen(function*() {
      const { connector: c } = yield* countingConnector
      const target = docs()
      // id 9 is fine, id 10's vector has the wrong dimension: the statement fails as a whole.
      const e = yield* Effect.flip(c.writeVectors(target, batch([9n, 10n], [vec(1, 2, 3), vec(1, 2)])))
      expect(e).toMatchObject({ reason: { _tag: "BadData" }, isRetryable: false })
      const rows = yield* c.query({ text: `SELECT count(*) AS n FROM "${schema}".docs WHERE id IN (9, 10) AND embedding IS NOT NULL`, params: [] })
      expect(rows).toEqual([{ n: 0n }])
      expect((yield* stateRows(`${schema}.docs.embedding`)).filter((r) => r.key === "9" || r.key === "10")).toEqual([])
    }))

  it.effect("writes constant set columns as parameters and counts only the rows it updated", () =>
    Effect.gen(function*() {
      const { connector: c } = yield* countingConnector
      const at = new Date("2024-05-01T10:00:00.000Z")
      const target = docs({ set: [{ column: "model", value: "bge-small; DROP TABLE x" }, { column: "embedded_at", value: at }] })
      expect(yield* c.writeVectors(target, batch([6n, 7n, 999n], [vec(1, 1, 1), vec(2, 2, 2), vec(3, 3, 3)]))).toBe(2)
      const rows = yield* c.query({ text: `SELECT id, model, embedded_at FROM "${schema}".docs WHERE id IN (6, 7) ORDER BY id`, params: [] })
      expect(rows).toEqual([
        { id: 6n, model: "bge-small; DROP TABLE x", embedded_at: at },
        { id: 7n, model: "bge-small; DROP TABLE x", embedded_at: at }
      ])
      // No state for an id the target does not have.
      expect((yield* stateRows(`${schema}.docs.embedding`)).map((r) => r.key)).not.toContain("999")
      expect(yield* c.writeVectors(target, batch([], []))).toBe(0)
    }))

  it.effect("quotes mixed-case names and types the ids by the key column (uuid)", () =>
    Effect.gen(function*() {
      const { connector: c } = yield* countingConnector
      const target: VectorTarget = { table: `${schema}.Mixed Case`, key: "key", vector: "Vec", set: [{ column: "tag", value: "t" }] }
      const ids = ["00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-000000000002"]
      expect(yield* c.writeVectors(target, batch(ids, [vec(0.5, 0.25), vec(1e-8, -2, 3, 4)]))).toBe(2)
      const rows = yield* c.query({ text: `SELECT "Vec"::text AS v FROM "${schema}"."Mixed Case" ORDER BY key`, params: [] })
      expect(rows.map((r) => r["v"])).toEqual(["[0.5,0.25]", "[1e-08,-2,3,4]"])
      expect((yield* stateRows(`${schema}."Mixed Case".Vec`)).map((r) => r.key)).toEqual(ids)
      expect(yield* c.embedStatus(target, "m", ids.map((id) => ({ id, hash: hash(`h:${id}`) })))).toEqual(["fresh", "fresh"])
    }))

  it.effect("a wrong dimension, a NaN or a ragged batch fails without retry", () =>
    Effect.gen(function*() {
      const { connector: c } = yield* countingConnector
      const dim = yield* Effect.flip(c.writeVectors(docs(), batch([8n], [vec(1, 2)])))
      expect(dim).toMatchObject({ reason: { _tag: "BadData" }, isRetryable: false })
      expect(dim.message).toMatch(/SQLSTATE 22/)
      const nan = yield* Effect.flip(c.writeVectors(docs(), batch([8n], [vec(1, NaN, 2)])))
      expect(nan).toMatchObject({ reason: { _tag: "BadData", detail: "InvalidVector" }, isRetryable: false })
      expect(nan.message).toContain("id 8")
      const mismatch = yield* Effect.flip(c.writeVectors(docs(), batch([8n, 9n], [vec(1, 2, 3)])))
      expect(mismatch.reason).toMatchObject({ _tag: "BadData", detail: "InvalidBatch" })
      const hashes = yield* Effect.flip(c.writeVectors(docs(), { ...batch([8n], [vec(1, 2, 3)]), hashes: [] }))
      expect(hashes.reason).toMatchObject({ _tag: "BadData", detail: "InvalidBatch" })
    }))

  it.effect("embed status moves between new, fresh, stale and missing", () =>
    Effect.gen(function*() {
      const { connector: c } = yield* countingConnector
      const target = docs({ table: `${schema}.states` })
      const item = (id: bigint, h = `h:${id}`) => ({ id, hash: hash(h) })
      const status = (items: ReadonlyArray<{ id: bigint; hash: Uint8Array }>, model = "m") => c.embedStatus(target, model, items)
      expect(yield* status([item(1n), item(2n), item(3n), item(99n)])).toEqual<Array<EmbedStatus>>(["new", "new", "new", "missing"])
      expect(yield* c.writeVectors(target, batch([1n, 2n, 3n, 4n], [vec(1, 1), vec(2, 2), vec(3, 3), vec(4, 4)]))).toBe(4)
      // Same text hash and model: fresh; another text or another model: stale. Order and repeats are kept.
      expect(yield* status([item(3n), item(1n), item(2n, "edited"), item(1n)])).toEqual(["fresh", "fresh", "stale", "fresh"])
      expect(yield* status([item(1n)], "other-model")).toEqual(["stale"])
      // A vector put there by hand has no recorded state: stale.
      yield* admin(`UPDATE "${schema}".states SET embedding = '[5,5]' WHERE id = 5`)
      expect(yield* status([item(5n), item(6n)])).toEqual(["stale", "new"])
      // NULLed by hand: new again, whatever the state says; deleted: missing.
      yield* admin(`UPDATE "${schema}".states SET embedding = NULL WHERE id = 2`)
      yield* admin(`DELETE FROM "${schema}".states WHERE id = 3`)
      expect(yield* status([item(1n), item(2n), item(3n), item(4n)])).toEqual(["fresh", "new", "missing", "fresh"])
      // Rewriting with the edited text makes it fresh for that text only.
      expect(yield* c.writeVectors(target, { ...batch([1n], [vec(7, 7)]), hashes: [hash("edited")] })).toBe(1)
      expect(yield* status([item(1n, "edited"), item(1n)])).toEqual(["fresh", "stale"])
      expect(yield* status([])).toEqual([])
    }))

  it.effect("clearVectors removes the vectors of rows whose text is gone, and their state, reporting which had one", () =>
    Effect.gen(function*() {
      const { connector: c } = yield* countingConnector
      yield* admin(`CREATE TABLE "${schema}".gone (id bigint PRIMARY KEY, embedding vector(2)); INSERT INTO "${schema}".gone (id) SELECT generate_series(1, 4)`)
      const target = docs({ table: `${schema}.gone` })
      expect(yield* c.writeVectors(target, batch([1n, 2n, 3n], [vec(1, 1), vec(2, 2), vec(3, 3)]))).toBe(3)
      // Row 4 has no vector and row 9 does not exist: only the positions of 3 and 1 come back.
      expect(yield* c.clearVectors(target, [4n, 3n, 9n, 1n])).toEqual([1, 3])
      const left = yield* Effect.promise(() => withAdmin(async (x) => (await x.query(`SELECT id, embedding IS NULL AS cleared FROM "${schema}".gone ORDER BY id`)).rows))
      expect(left).toEqual([{ id: "1", cleared: true }, { id: "2", cleared: false }, { id: "3", cleared: true }, { id: "4", cleared: true }])
      expect((yield* stateRows(`${schema}.gone.embedding`)).map((r) => r.key)).toEqual(["2"])
      expect(yield* c.embedStatus(target, "m", [{ id: 1n, hash: hash("h:1") }])).toEqual(["new"])
      expect(yield* c.clearVectors(target, [])).toEqual([])
    }))

  it.effect("a key matching several target rows updates them all and records one state row", () =>
    Effect.gen(function*() {
      const { connector: c } = yield* countingConnector
      const target = docs({ table: `${schema}.multi`, key: "k" })
      expect(yield* c.writeVectors(target, batch([1, 1, 2], [vec(1, 1), vec(1, 1), vec(2, 2)]))).toBe(3)
      expect((yield* stateRows(`${schema}.multi.embedding`)).map((r) => r.key)).toEqual(["1", "2"])
      expect(yield* c.embedStatus(target, "m", [{ id: 1, hash: hash("h:1") }])).toEqual(["fresh"])
      yield* admin(`UPDATE "${schema}".multi SET embedding = NULL WHERE n = 2`)
      expect(yield* c.embedStatus(target, "m", [{ id: 1, hash: hash("h:1") }, { id: 3, hash: hash("h:3") }])).toEqual(["new", "missing"])
    }))

  it.effect("writes 500 384-dimensional vectors in one statement", () =>
    Effect.gen(function*() {
      const { connector: c, statements } = yield* countingConnector
      const target = docs({ table: `${schema}.wide` })
      yield* c.embedStatus(target, "m", [{ id: 1, hash: hash("x") }])
      const ids = Array.from({ length: 500 }, (_, i) => BigInt(i + 1))
      const vectors = ids.map((id) => Float32Array.from({ length: 384 }, (_, j) => Math.sin(Number(id) * 31 + j)))
      statements.length = 0
      expect(yield* c.writeVectors(target, batch(ids, vectors))).toBe(500)
      expect(statements.length).toBe(1)
      const check = yield* c.query({
        text: `SELECT embedding::text AS e FROM "${schema}".wide WHERE id = 250`,
        params: []
      })
      const back = Float32Array.from((check[0]?.["e"] as string).slice(1, -1).split(",").map(Number))
      expect(back).toEqual(vectors[249])
    }))

  it.effect("the fingerprint names the cluster, the database and the target tables, and changes when a table is recreated", () =>
    Effect.gen(function*() {
      const { connector: c } = yield* countingConnector
      yield* admin(`CREATE TABLE "${schema}".fp (id int PRIMARY KEY, embedding vector(2))`)
      const target = docs({ table: `${schema}.fp` })
      const first = yield* c.fingerprint([target, docs()])
      expect(first).toMatch(new RegExp(`^pg:(\\d+|\\?):\\d+:${schema}\\.docs=\\d+,${schema}\\.fp=\\d+$`))
      expect(yield* c.fingerprint([docs(), target, target])).toBe(first)
      expect(yield* c.fingerprint([])).toBe(first.split(":").slice(0, 3).join(":"))
      yield* admin(`DROP TABLE "${schema}".fp; CREATE TABLE "${schema}".fp (id int PRIMARY KEY, embedding vector(2))`)
      const second = yield* c.fingerprint([target, docs()])
      expect(second).not.toBe(first)
      expect(second.replace(/fp=\d+$/, "")).toBe(first.replace(/fp=\d+$/, ""))
      yield* admin(`DROP TABLE "${schema}".fp`)
      expect(yield* c.fingerprint([target])).toMatch(/fp=none$/)
    }))
})
