import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { VectorTarget } from "@polymath/engine"
import { pgConnectorFromPool } from "../src/PgConnector.ts"
import { acquirePgPool } from "../src/PgPool.ts"
import { vectorIndexName } from "../src/VectorIndex.ts"
import { createScratchSchema, dropScratchSchema, ensureVectorExtension, testDsn, withAdmin } from "./support.ts"

let schema = ""

beforeAll(async () => {
  await ensureVectorExtension()
  schema = await createScratchSchema("vindex")
  await withAdmin((c) =>
    c.query(`
      CREATE TABLE "${schema}".docs (id int PRIMARY KEY, embedding vector(3));
      INSERT INTO "${schema}".docs SELECT i, ARRAY[i, i % 3, 1]::real[]::vector FROM generate_series(1, 50) i;
      CREATE TABLE "${schema}"."Half Vecs" (id int PRIMARY KEY, "Emb" halfvec(2));
    `)
  )
}, 180_000)

afterAll(async () => {
  if (schema !== "") await dropScratchSchema(schema)
}, 180_000)

const connector = Effect.map(acquirePgPool({ dsn: testDsn() }), (pool) => pgConnectorFromPool("index-test", pool))

const hnsw = (): VectorTarget => ({ table: `${schema}.docs`, key: "id", vector: "embedding", set: [], index: { method: "hnsw", metric: "cosine", options: [{ name: "m", value: 8 }, { name: "ef_construction", value: 32 }] } })

const indexDef = (name: string) =>
  Effect.promise(() => withAdmin((c) => c.query("SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname = $2", [schema, name]))).pipe(
    Effect.map((r) => (r.rows[0] as { indexdef: string } | undefined)?.indexdef ?? null)
  )

describe("declared vector indexes", () => {
  it.effect("builds the declared HNSW index once; a second ensure finds it", () =>
    Effect.scoped(Effect.gen(function*() {
      const c = yield* connector
      const target = hnsw()
      expect((yield* c.vectorIndex(target)).state).toBe("missing")
      const first = yield* c.ensureVectorIndex(target)
      expect(first).toEqual({ name: vectorIndexName(target, target.index!), created: true })
      const def = yield* indexDef(first.name)
      expect(def).toMatch(/USING hnsw \(embedding vector_cosine_ops\) WITH \(m='?8'?, ef_construction='?32'?\)/)
      expect(yield* c.vectorIndex(target)).toMatchObject({ state: "valid" })
      expect(yield* c.ensureVectorIndex(target)).toEqual({ name: first.name, created: false })
    })))

  it.effect("another definition under the index's name fails with a message naming it; an invalid leftover is rebuilt", () =>
    Effect.scoped(Effect.gen(function*() {
      const c = yield* connector
      const target: VectorTarget = { ...hnsw(), index: { method: "ivfflat", metric: "l2", options: [{ name: "lists", value: 4 }] } }
      const name = vectorIndexName(target, target.index!)
      // Same name, other operator class.
      yield* Effect.promise(() => withAdmin((c2) => c2.query(`CREATE INDEX "${name}" ON "${schema}".docs USING ivfflat (embedding vector_ip_ops) WITH (lists = 4)`)))
      expect((yield* c.vectorIndex(target)).state).toBe("different")
      const failed = yield* c.ensureVectorIndex(target).pipe(Effect.flip)
      expect(failed.reason).toMatchObject({ _tag: "Unavailable", detail: "IndexDiffers" })
      expect(failed.message).toContain(`an index named ${name} exists with another definition`)
      // As a died CREATE INDEX CONCURRENTLY leaves it: present but not valid.
      yield* Effect.promise(() => withAdmin(async (c2) => {
        await c2.query(`DROP INDEX "${schema}"."${name}"`)
        await c2.query(`CREATE INDEX "${name}" ON "${schema}".docs USING ivfflat (embedding vector_l2_ops) WITH (lists = 4)`)
        await c2.query(`UPDATE pg_index SET indisvalid = false WHERE indexrelid = '"${schema}"."${name}"'::regclass`)
      }))
      expect(yield* c.vectorIndex(target)).toMatchObject({ state: "invalid" })
      expect((yield* c.ensureVectorIndex(target)).created).toBe(true)
      expect((yield* c.vectorIndex(target)).state).toBe("valid")
    })))

  it.effect("halfvec columns get halfvec operator classes; quoted names stay quoted", () =>
    Effect.scoped(Effect.gen(function*() {
      const c = yield* connector
      const target: VectorTarget = { table: `${schema}.Half Vecs`, key: "id", vector: "Emb", set: [], index: { method: "hnsw", metric: "inner_product", options: [] } }
      const built = yield* c.ensureVectorIndex(target)
      expect(yield* indexDef(built.name)).toMatch(/USING hnsw \("Emb" halfvec_ip_ops\)/)
    })))

  it("names longer than Postgres allows are shortened without colliding", () => {
    const long = (s: string): VectorTarget => ({ table: `${"t".repeat(40)}${s}`, key: "id", vector: "v".repeat(30), set: [] })
    const index = { method: "hnsw", metric: "cosine", options: [] } as const
    const a = vectorIndexName(long("a"), index)
    const b = vectorIndexName(long("b"), index)
    expect(Buffer.byteLength(a)).toBeLessThanOrEqual(63)
    expect(a).not.toBe(b)
  })
})
