import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { pgConnectorFromPool } from "../src/PgConnector.ts"
import { acquirePgPool } from "../src/PgPool.ts"
import { createScratchSchema, dropScratchSchema, ensureVectorExtension, testDsn, withAdmin } from "./support.ts"

/*
 * A pgvector column a source selects arrives as numbers, so a graph mapping that copies it
 * writes a LIST<FLOAT> property instead of the vector's 4,700-character text.
 */
let schema = ""

beforeAll(async () => {
  await ensureVectorExtension()
  schema = await createScratchSchema("vecvalues")
  await withAdmin((c) =>
    c.query(`
      CREATE TABLE "${schema}".docs (id int PRIMARY KEY, v vector(3), h halfvec(2));
      INSERT INTO "${schema}".docs VALUES (1, '[0.5,-2,3e-05]', '[1,0.25]'), (2, NULL, NULL);
    `)
  )
}, 180_000)

afterAll(async () => {
  if (schema !== "") await dropScratchSchema(schema)
}, 180_000)

describe("pgvector values", () => {
  it.effect("source pages and queries return vector and halfvec columns as number arrays", () =>
    Effect.scoped(Effect.gen(function*() {
      const connector = pgConnectorFromPool("pg", yield* acquirePgPool({ dsn: testDsn() }))
      const statement = { text: `SELECT id, v, h FROM "${schema}".docs`, params: [] }
      const pages = yield* Stream.runCollect(connector.pages({ name: "docs", statement, key: ["id"], pageSize: 10, cursor: null, fold: null }, null))
      const rows = [...pages].flatMap((p) => [...p.rows])
      expect(rows.map((r) => [r["v"], r["h"]])).toEqual([[[0.5, -2, 3e-5], [1, 0.25]], [null, null]])
      expect(yield* connector.query(statement)).toEqual([{ id: 1n, v: [0.5, -2, 3e-5], h: [1, 0.25] }, { id: 2n, v: null, h: null }])
    })))
})
