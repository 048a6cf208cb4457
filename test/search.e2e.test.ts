/**
 * `polymath search` on the small corpus synced by batch-v1 (16 embedded passages over 4
 * papers): the query is embedded with the step's model, the nearest passages come back
 * ranked, each expanded through the graph with its paper and this run's concepts; `--via`
 * keeps passages whose node has a relationship (graph-constrained search), `--filter`
 * keeps rows by a column; a wrong search, filter or hop is refused with exit 2.
 */
import { beforeAll, describe, expect, it } from "vitest"
import { loadSmallCorpus, passageId } from "./corpus.ts"
import { e2eEnv, pgExec, pgRows, resetDatabase, resetGraph, run, runner } from "./support.ts"

const db = "polymath_search"
const model = ["--set", "model=bge-small-en-v1.5-q"]
const env = () => e2eEnv(db)
const search = (...args: ReadonlyArray<string>) => run(runner("search", "--pipeline=batch-v1", ...args, ...model), env())

interface Hit {
  readonly rank: number
  readonly key: string
  readonly similarity: number
  readonly columns: Record<string, unknown>
  readonly graph: { paper: string; methods: Array<string>; problems: Array<string>; other_concepts: Array<string> } | null
}
interface Result {
  readonly hits: ReadonlyArray<Hit>
  readonly exact: boolean
  readonly candidates: number | null
  readonly timings: Record<string, number>
}

const searchJson = async (...args: ReadonlyArray<string>): Promise<Result> => {
  const r = await search(...args, "--json")
  expect(r.code, r.stderr).toBe(0)
  return JSON.parse(r.stdout) as Result
}

/** What Postgres says a passage's batch-v1 concepts of a type are, sorted as the expansion sorts them. */
const conceptsOf = async (passage: string, type: string): Promise<Array<string>> =>
  ((await pgRows(
    "SELECT DISTINCT concept_name FROM passage_concepts WHERE passage_id = $1 AND concept_type = $2 AND extractor_version = 'batch-v1' ORDER BY 1",
    [passage, type],
    db
  )) as Array<{ concept_name: string }>).map((r) => r.concept_name).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))

const keysWhere = async (sql: string, params: ReadonlyArray<unknown> = []): Promise<Array<string>> =>
  ((await pgRows(sql, params, db)) as Array<{ id: string }>).map((r) => r.id).sort()

describe("search", () => {
  beforeAll(async () => {
    await resetDatabase(db)
    await loadSmallCorpus(db)
    await resetGraph()
    const synced = await run(runner("run", "--pipeline=batch-v1", ...model), env())
    expect(synced.code, synced.stderr).toBe(0)
  })

  it("finds the passages nearest a query and expands each through the graph", async () => {
    const result = await searchJson("passages", "we study protein folding", "--k", "4")
    // Passages 8-11 are paper 2's, the only ones about protein folding.
    expect(result.hits.map((h) => h.key).sort()).toEqual([8, 9, 10, 11].map(passageId).sort())
    expect(result.hits.map((h) => h.rank)).toEqual([1, 2, 3, 4])
    const sims = result.hits.map((h) => h.similarity)
    expect([...sims].sort((a, b) => b - a)).toEqual(sims)
    expect(result.exact).toBe(false)
    for (const hit of result.hits) {
      expect(hit.graph?.paper).toBe("Ünïcode — and other hazards in protein folding")
      expect(hit.graph?.methods).toEqual(await conceptsOf(hit.key, "method"))
      expect(hit.graph?.problems).toEqual(await conceptsOf(hit.key, "problem"))
      expect(hit.columns["section"]).toBe(["abstract", "methods", "results", "discussion"][Number(hit.key.slice(-8)) % 4])
    }
    expect(result.timings["embed_ms"]).toBeGreaterThan(0)
    expect(result.timings["knn_ms"]).toBeGreaterThan(0)
    expect(result.timings["expand_ms"]).toBeGreaterThan(0)
  })

  it("prints a readable table by default", async () => {
    const r = await search("passages", "we study protein folding", "--k", "2")
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/batch-v1 \/ passages: 2 hits for "we study protein folding" \(bge-small-en-v1\.5-q, cosine, vector index\)/)
    expect(r.stdout).toMatch(/#\s+similarity\s+key\s+section\s+paper\s+methods\s+problems\s+other_concepts/)
    expect(r.stdout).toContain("Ünïcode — and other hazards in pr…")
    expect(r.stdout).toMatch(/time: embed [\d.]+ ms, kNN [\d.]+ ms, graph expansion [\d.]+ ms/)
  })

  it("keeps only passages whose node has the --via relationships (graph-constrained search)", async () => {
    const withMethod = await keysWhere(
      "SELECT DISTINCT passage_id::text AS id FROM passage_concepts WHERE extractor_version = 'batch-v1' AND concept_type = 'method'"
    )
    const all = await searchJson("passages", "graph neural networks", "--k", "50")
    expect(all.hits).toHaveLength(16)
    const r = await searchJson("passages", "graph neural networks", "--k", "50", "--via", "MENTIONS:Method")
    expect(r.candidates).toBe(withMethod.length)
    expect(r.exact).toBe(true)
    expect(r.hits.map((h) => h.key).sort()).toEqual(withMethod)
    expect(withMethod.length).toBeLessThan(16)

    const gat = await keysWhere(
      "SELECT DISTINCT passage_id::text AS id FROM passage_concepts WHERE extractor_version = 'batch-v1' AND concept_name = 'graph attention network'"
    )
    const named = await searchJson("passages", "graph neural networks", "--k", "50", "--via", "MENTIONS:Concept:name=graph attention network")
    expect(named.hits.map((h) => h.key).sort()).toEqual(gat)
    expect(gat.length).toBeGreaterThan(0)
    expect(gat.length).toBeLessThan(withMethod.length)
  })

  it("keeps only rows whose column equals a --filter (through the index), and --exact scans every vector", async () => {
    const r = await searchJson("passages", "results on a benchmark", "--k", "50", "--filter", "section=methods")
    expect(r.hits.map((h) => h.key).sort()).toEqual([1, 5, 9, 13].map(passageId).sort())
    expect(r.hits.every((h) => h.columns["section"] === "methods")).toBe(true)
    expect(r.exact).toBe(false)
    const exact = await searchJson("passages", "we study protein folding", "--k", "4", "--exact")
    expect(exact.exact).toBe(true)
    expect(exact.hits.map((h) => h.key).sort()).toEqual([8, 9, 10, 11].map(passageId).sort())
  })

  it("searches only vectors the step's model made (a row marked with another model is not a hit)", async () => {
    await pgExec("UPDATE passages SET embedding_model = 'legacy' WHERE passage_id = $1", [passageId(9)], db)
    try {
      const r = await searchJson("passages", "we study protein folding", "--k", "4")
      expect(r.hits.map((h) => h.key)).not.toContain(passageId(9))
      expect(r.hits).toHaveLength(4)
    } finally {
      await pgExec("UPDATE passages SET embedding_model = 'bge-small-en-v1.5-q' WHERE passage_id = $1", [passageId(9)], db)
    }
  })

  it("refuses an unknown search, filter column or hop with exit 2, before any store is asked", async () => {
    const unknown = await search("nope", "x")
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain("pipeline batch-v1 declares no search 'nope'")
    expect(unknown.stderr).toContain("its searches: passages")
    const filter = await search("passages", "x", "--filter", "title=a")
    expect(filter.code).toBe(2)
    expect(filter.stderr).toContain("'title' is not a filter of this search")
    expect(filter.stderr).toContain("filters: section, doc_id")
    const via = await search("passages", "x", "--via", "MENTIONS")
    expect(via.code).toBe(2)
    expect(via.stderr).toContain("is not a label")
    for (const r of [unknown, filter, via]) expect(r.stderr).not.toMatch(/\n\s+at /)
  })
})
