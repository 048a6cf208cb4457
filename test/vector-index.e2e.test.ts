/**
 * A vector index declared on an embed step (`into.index`): `plan` says it would be
 * built, the run builds it after writing the vectors, a re-run finds it and builds
 * nothing, and `plan` then says it exists. On the movies example, which declares an
 * HNSW cosine index, in a database of its own.
 */
import { readFileSync } from "node:fs"
import { beforeAll, describe, expect, it } from "vitest"
import { e2eEnv, pgExec, pgRows, resetDatabase, resetGraph, run, runner } from "./support.ts"

const db = "polymath_vindex"
const pipeline = "--pipeline=pipelines/examples/movies.yaml"
const model = ["--set", "model=bge-small-en-v1.5-q"]
const env = () => e2eEnv(db)
const indexes = () => pgRows("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'movies' AND indexdef LIKE '%hnsw%'", [], db)

describe("declared vector indexes", () => {
  beforeAll(async () => {
    await resetDatabase(db)
    await pgExec(readFileSync("pipelines/examples/movies.sql", "utf8"), [], db)
    await resetGraph(["Movie", "Person", "Genre"])
  })

  it("plan announces the index, the run builds it once, plan then finds it", async () => {
    const before = await run(runner("plan", pipeline, ...model), env())
    expect(before.code, before.stderr).toBe(0)
    expect(before.stdout).toMatch(/hnsw index movies_plot_embedding_hnsw_cosine_idx \(cosine\) would be built after the vectors are written/)
    expect(await indexes()).toEqual([])

    const first = await run(runner("run", pipeline, ...model), env())
    expect(first.code, first.stderr).toBe(4)
    expect(first.stdout).toContain("note: embed_plots: built hnsw index movies_plot_embedding_hnsw_cosine_idx (cosine) on movies.plot_embedding")
    const built = (await indexes()) as Array<{ indexname: string; indexdef: string }>
    expect(built.map((i) => i.indexname)).toEqual(["movies_plot_embedding_hnsw_cosine_idx"])
    expect(built[0]!.indexdef).toContain("USING hnsw (plot_embedding vector_cosine_ops)")

    const again = await run(runner("run", pipeline, ...model), env())
    expect([0, 4]).toContain(again.code)
    expect(again.stdout).not.toContain("built hnsw index")
    expect(await indexes()).toHaveLength(1)

    const after = await run(runner("plan", pipeline, ...model), env())
    expect(after.stdout).toMatch(/hnsw index movies_plot_embedding_hnsw_cosine_idx \(cosine\) exists/)
  })
})
