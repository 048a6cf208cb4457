/**
 * `trace` and the graph_matches_source check on a small corpus (16 passages of batch-v1)
 * in its own database: after a clean run both stores agree hop by hop; each planted
 * difference (a relationship deleted from the graph, a source row deleted, a stray
 * relationship, a NULL vector, a lost node) is found and named, by trace and by verify
 * (exit 3), where equal counts pass; bad input (an unknown label, a wrong number of key
 * values, a key no store has) exits 2. Through the runner CLI, as a user runs it.
 */
import { readFileSync } from "node:fs"
import { beforeAll, describe, expect, it } from "vitest"
import { docId, loadSmallCorpus, passageId } from "./corpus.ts"
import { cypherScalar, cypherWrite, e2eEnv, pgExec, pgRows, resetDatabase, resetGraph, run, runner } from "./support.ts"

const db = "polymath_trace"
const labels = ["Paper", "Passage", "Concept"]
const model = ["--set", "model=bge-small-en-v1.5-q"]
const env = () => e2eEnv(db)
const cli = (...args: ReadonlyArray<string>) => run(runner(...args), env())
const traceOf = (...args: ReadonlyArray<string>) => cli("trace", "-p", "batch-v1", ...model, ...args)
const sql = (text: string, params: ReadonlyArray<unknown> = []) => pgRows(text, params, db)

const concept = { name: "protein folding", type: "problem" }
const mention = (passage: string) => `Passage(${passage}) -[MENTIONS {extractor_version: batch-v1}]-> Concept(protein folding, problem)`

/** The passages batch-v1 says mention the concept, and their papers, as Postgres has them. */
const expected = async () => {
  const rows = await sql(
    `SELECT DISTINCT pc.passage_id::text AS p, p.doc_id::text AS d FROM passage_concepts pc JOIN passages p USING (passage_id)
      WHERE pc.extractor_version = 'batch-v1' AND pc.concept_name = $1 AND pc.concept_type = $2 ORDER BY 1`,
    [concept.name, concept.type]
  )
  return { passages: rows.map((r) => String(r["p"])), papers: [...new Set(rows.map((r) => String(r["d"])))].sort() }
}

interface TraceJson {
  readonly agree: boolean
  readonly nodes: ReadonlyArray<{ readonly properties: Record<string, unknown>; readonly postgres: boolean; readonly graph: string }>
  readonly hops: ReadonlyArray<{
    readonly hop: number
    readonly type: string
    readonly direction: string
    readonly relationships: ReadonlyArray<{ readonly start: Record<string, unknown>; readonly end: Record<string, unknown>; readonly key: Record<string, unknown>; readonly postgres: boolean; readonly graph: string }>
    readonly nodes: ReadonlyArray<{ readonly properties: Record<string, unknown>; readonly vector: string }>
  }>
  readonly differences: ReadonlyArray<{ readonly kind: string; readonly message: string }>
}

const sync = async () => {
  const r = await cli("run", "-p", "batch-v1", ...model)
  expect(r.stdout, r.stderr).toContain("all 8 checks passed")
  expect(r.code).toBe(0)
}

describe("trace and graph_matches_source", () => {
  beforeAll(async () => {
    await resetDatabase(db)
    await loadSmallCorpus(db)
    await resetGraph(labels)
    await sync()
  })

  it("on a synced corpus, a concept's passages and papers agree in both stores (exit 0)", async () => {
    const want = await expected()
    expect(want.passages.length).toBeGreaterThan(2)
    const r = await traceOf("Concept", concept.name, concept.type)
    expect(r.code, r.stderr + r.stdout).toBe(0)
    expect(r.stdout).toContain("hop 1: Concept <-[MENTIONS]- Passage  (source mentions)")
    expect(r.stdout).toContain("hop 2: Passage -[FROM_PAPER]-> Paper  (source passages)")
    for (const p of want.passages) expect(r.stdout).toMatch(new RegExp(`protein folding, problem\\s+${p}\\s+batch-v1\\s+row\\s+rel\\s+ok`))
    for (const d of want.papers) expect(r.stdout).toMatch(new RegExp(`\\s${d}\\s+row\\s+node\\s+ok`))
    expect(r.stdout).toContain(`the stores agree: ${1 + want.passages.length + want.papers.length} nodes and ${2 * want.passages.length} relationships compared, no differences`)

    const j = await traceOf("Concept", concept.name, "--json")
    expect(j.code).toBe(0)
    const t = JSON.parse(j.stdout) as TraceJson
    expect(t.agree).toBe(true)
    expect(t.nodes.map((n) => n.properties)).toEqual([concept])
    expect(t.hops.map((h) => [h.hop, h.type, h.direction])).toEqual([[1, "MENTIONS", "in"], [2, "FROM_PAPER", "out"]])
    expect(t.hops[0]!.relationships.map((x) => x.start["passage_id"]).sort()).toEqual(want.passages)
    expect(t.hops[0]!.nodes.every((n) => n.vector === "ok")).toBe(true)
    expect(t.hops[1]!.nodes.map((n) => n.properties["doc_id"]).sort()).toEqual(want.papers)
  })

  it("works from a paper too: its passages, then their concepts", async () => {
    const passages = (await sql("SELECT DISTINCT passage_id::text AS p FROM passages JOIN passage_concepts USING (passage_id) WHERE doc_id = $1 AND extractor_version = 'batch-v1'", [docId(1)])).map((r) => String(r["p"]))
    const r = await traceOf("Paper", docId(1), "--json")
    expect(r.code, r.stderr).toBe(0)
    const t = JSON.parse(r.stdout) as TraceJson
    expect(t.hops.map((h) => [h.type, h.direction])).toEqual([["FROM_PAPER", "in"], ["MENTIONS", "out"]])
    expect(t.hops[0]!.nodes.map((n) => n.properties["passage_id"]).sort()).toEqual(passages.sort())
    expect(t.hops[1]!.relationships.length).toBe(await cypherScalar(
      "MATCH (:Paper {doc_id: $d})<-[:FROM_PAPER]-(:Passage)-[m:MENTIONS]->(:Concept) WHERE 'batch-v1' IN m.extractor_versions RETURN count(m)",
      { d: docId(1) }
    ))
  })

  it("an unknown label or a wrong number of key values exits 2 and says why", async () => {
    const unknown = await traceOf("Concpt", "x")
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain("pipeline batch-v1 writes no Concpt nodes; labels: Paper, Passage, Concept")
    const many = await traceOf("Concept", "a", "b", "c")
    expect(many.code).toBe(2)
    expect(many.stderr).toContain("Concept is keyed by (name, type): give 1 to 2 values, in that order; got 3")
    const none = await traceOf("Passage")
    expect(none.code).toBe(2)
    const typo = await traceOf("Concept", "protein foldin")
    expect(typo.code).toBe(2)
    expect(typo.stderr).toContain("no Concept node matches name=protein foldin, neither in Postgres (source concepts) nor in the graph")
  })

  it("a mention lost by the graph and a stray one: the counts still agree, the store check names both (exit 3)", async () => {
    const want = await expected()
    const lost = want.passages[0]!
    await cypherWrite(`MATCH (:Passage {passage_id: $p})-[m:MENTIONS {extractor_version: 'batch-v1'}]->(:Concept {name: $n, type: $t}) DELETE m`, { p: lost, n: concept.name, t: concept.type })
    // A relationship no source row yields: passage 0 does not mention the concept.
    const stray = passageId(0)
    expect(want.passages).not.toContain(stray)
    await cypherWrite(
      `MATCH (p:Passage {passage_id: $p}), (c:Concept {name: $n, type: $t})
       CREATE (p)-[:MENTIONS {extractor_version: 'batch-v1', extractor_versions: ['batch-v1'], confidence: 0.5}]->(c)`,
      { p: stray, n: concept.name, t: concept.type }
    )
    const v = await cli("verify", "-p", "batch-v1", ...model)
    expect(v.code).toBe(3)
    expect(v.stdout).toMatch(/PASS {2}graph traceability \(every mention of this version -> passage -> paper\): got 48, expected = 48/)
    expect(v.stdout).toMatch(/FAIL {2}the graph holds exactly this version's mentions: got 2, expected 0 differences between source mentions and the MENTIONS relationships holding extractor_versions=batch-v1 \(47 in both\)/)
    expect(v.stdout).toContain(`in Postgres (mentions), not in the graph: 1\n            ${mention(lost)}`)
    expect(v.stdout).toContain(`in the graph, not in Postgres (mentions): 1\n            ${mention(stray)}`)
    expect(v.stdout).toMatch(/PASS {2}the graph holds exactly this run's passages, node for row/)
    expect(v.stdout).toContain("1 of 8 checks failed")
  })

  it("trace names each difference: a relationship the graph lost, one whose row is gone, a stray one, a NULL vector (exit 3)", async () => {
    const want = await expected()
    const [lost, gone, blank] = want.passages
    await pgExec("DELETE FROM passage_concepts WHERE passage_id = $1 AND concept_name = $2 AND concept_type = $3", [gone, concept.name, concept.type], db)
    await pgExec("UPDATE passages SET embedding = NULL WHERE passage_id = $1", [blank], db)
    const stray = passageId(0)

    const r = await traceOf("Concept", concept.name, concept.type, "--depth", "1")
    expect(r.code, r.stderr + r.stdout).toBe(3)
    expect(r.stdout).toContain(`${mention(lost!)}: in Postgres (source mentions), not in the graph`)
    expect(r.stdout).toContain(`${mention(gone!)}: in the graph holding extractor_versions=batch-v1, not in Postgres (source mentions yields no such row)`)
    expect(r.stdout).toContain(`${mention(stray)}: in the graph holding extractor_versions=batch-v1, not in Postgres (source mentions yields no such row)`)
    expect(r.stdout).toContain(`Passage(${blank}): no vector (passages.embedding IS NULL)`)
    // Side by side: the row is in Postgres, the graph column is empty.
    expect(r.stdout).toMatch(new RegExp(`protein folding, problem\\s+${lost}\\s+batch-v1\\s+row\\s+-\\s+DIFF: in Postgres, not in the graph`))
    expect(r.stdout).toMatch(new RegExp(`protein folding, problem\\s+${gone}\\s+batch-v1\\s+-\\s+rel\\s+DIFF: in the graph, not in Postgres`))
    expect(r.stdout).toContain("differences: 4")
    const t = JSON.parse((await traceOf("Concept", concept.name, concept.type, "--depth", "1", "--json")).stdout) as TraceJson
    expect(t.agree).toBe(false)
    expect(t.differences.map((d) => d.kind).sort()).toEqual(["graph-only", "graph-only", "postgres-only", "vector"])
  })

  it("a passage node the graph lost is named by trace and by the node check", async () => {
    const [, , , lost] = (await expected()).passages
    await cypherWrite("MATCH (p:Passage {passage_id: $p}) DETACH DELETE p", { p: lost })
    const r = await traceOf("Passage", lost!, "--depth", "0")
    expect(r.code).toBe(3)
    expect(r.stdout).toContain(`Passage(${lost}): in Postgres (source passages), not in the graph`)
    // Reached from the concept, the passage is an endpoint the graph lost, and so are its mentions.
    const hop = await traceOf("Concept", concept.name, concept.type, "--depth", "1")
    expect(hop.code).toBe(3)
    expect(hop.stdout).toContain(`Passage(${lost}): an end of the relationships above, missing from the graph (source passages yields it)`)
    expect(hop.stdout).toContain(`${mention(lost!)}: in Postgres (source mentions), not in the graph`)
    const v = await cli("verify", "-p", "batch-v1", ...model)
    expect(v.code).toBe(3)
    expect(v.stdout).toMatch(/FAIL {2}the graph holds exactly this run's passages, node for row: got 1/)
    expect(v.stdout).toContain(`            Passage(${lost})`)
  })

  it("a run repairs every planted difference, the stray relationship included (it holds the lineage, no row yields it), and both agree again", async () => {
    await sync()
    const r = await traceOf("Concept", concept.name, concept.type)
    expect(r.stdout).toContain("the stores agree")
    expect(r.code).toBe(0)
    const v = await cli("verify", "-p", "batch-v1", ...model)
    expect(v.stdout).toContain("all 8 checks passed")
    expect(v.code).toBe(0)
  })
})

describe("trace on another pipeline (the movies example)", () => {
  const movies = "polymath_trace_movies"
  const pipeline = ["-p", "pipelines/examples/movies.yaml", ...model]
  const moviesCli = (...args: ReadonlyArray<string>) => run(runner(...args), e2eEnv(movies))

  beforeAll(async () => {
    await resetDatabase(movies)
    await pgExec(readFileSync("pipelines/examples/movies.sql", "utf8"), [], movies)
    await resetGraph(["Movie", "Person", "Genre"])
    // Exit 4: two movies have no plot to embed, by design of the example.
    expect((await moviesCli("run", ...pipeline)).code).toBe(4)
  })

  it("follows ACTED_IN and IN_GENRE from a movie keyed by an integer typed on the command line", async () => {
    const r = await moviesCli("trace", ...pipeline, "Movie", "8", "--json")
    expect(r.code, r.stderr + r.stdout).toBe(0)
    const t = JSON.parse(r.stdout) as TraceJson
    expect(t.nodes.map((n) => [n.properties, n.postgres, n.graph])).toEqual([[{ movie_id: 8 }, true, "scope"]])
    expect(t.hops.map((h) => [h.hop, h.type, h.direction])).toEqual([[1, "ACTED_IN", "in"], [1, "IN_GENRE", "out"]])
    const roles = await pgRows("SELECT person_id, role FROM roles WHERE movie_id = 8 ORDER BY role", [], movies)
    expect(t.hops[0]!.relationships.map((x) => [x.start["person_id"], x.key["role"]]))
      .toEqual(roles.map((x) => [Number(x["person_id"]), x["role"]]))
  })

  it("a movie whose plot the run rejects has no vector to check; a role deleted in Postgres is named", async () => {
    const noPlot = await moviesCli("trace", ...pipeline, "Movie", "4", "--depth", "0")
    expect(noPlot.code, noPlot.stdout).toBe(0)
    await pgExec("DELETE FROM roles WHERE movie_id = 8 AND role = 'Annie James'", [], movies)
    const r = await moviesCli("trace", ...pipeline, "Movie", "8")
    expect(r.code).toBe(3)
    expect(r.stdout).toContain("Person(13) -[ACTED_IN {role: Annie James}]-> Movie(8): in the graph holding datasets=movies-demo, not in Postgres (source credits yields no such row)")
  })
})
