/**
 * The corpus lives: extractor versions that coexist whatever order they run in (or both
 * at once), edits and deletions that propagate, re-runs that write nothing, bad rows
 * that are rejected by policy and listed, resumes that are trusted only against the
 * same stores, and source contracts checked before anything is written. On a small
 * corpus (24 passages) in its own database, through the runner CLI as a user runs it.
 */
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { loadSmallCorpus, passageId } from "./corpus.ts"
import { cypher, cypherScalar, e2eEnv, graphDump, pgExec, pgRows, pgScalar, resetDatabase, resetGraph, run, runner } from "./support.ts"

const db = "polymath_living"
const labels = ["Paper", "Passage", "Concept"]
const model = ["--set", "model=bge-small-en-v1.5-q"]
const env = () => e2eEnv(db)
const cli = (...args: ReadonlyArray<string>) => run(runner(...args, ...model), env())
const sql = (text: string, params: ReadonlyArray<unknown> = []) => pgRows(text, params, db)
const scalar = (text: string, params: ReadonlyArray<unknown> = []) => pgScalar(text, params, db)

const fresh = async () => {
  await resetDatabase(db)
  await loadSmallCorpus(db)
  await resetGraph(labels)
}

// Pipeline variants live beside a copy of batch-v1.yaml so that `extends: batch-v1` resolves.
const dir = mkdtempSync(join(tmpdir(), "living-"))
copyFileSync("pipelines/batch-v1.yaml", join(dir, "batch-v1.yaml"))
copyFileSync("pipelines/batch-v2.yaml", join(dir, "batch-v2.yaml"))
const variant = (name: string, body: string): string => {
  const file = join(dir, `${name}.yaml`)
  writeFileSync(file, `pipeline: ${name}\nextends: batch-v1\n${body}`)
  return `--pipeline=${file}`
}

interface Report {
  readonly resumed: boolean
  readonly units: ReadonlyArray<{ unit: string; read: number; created: number; updated: number; unchanged: number; deleted: number; rejected: number }>
}
const withReport = async (...args: ReadonlyArray<string>) => {
  const file = join(dir, `report-${Math.random().toString(36).slice(2)}.json`)
  const r = await cli(...args, "--json", file)
  return { ...r, report: r.code === 0 || r.code === 3 || r.code === 4 ? (JSON.parse(readFileSync(file, "utf8")) as Report) : null }
}
const unit = (report: Report | null, name: string) => report!.units.find((u) => u.unit.endsWith(name) || u.unit === name)!

/** Each version's mentions as Postgres says (one per pair, the best confidence) and as the graph holds them. */
const mentionsOf = async (version: string) => {
  const pg = await sql(
    `SELECT passage_id::text AS p, concept_name AS n, concept_type AS t, max(confidence) AS c
       FROM passage_concepts WHERE extractor_version = $1 GROUP BY 1, 2, 3`,
    [version]
  )
  const graph = await cypher(
    `MATCH (p:Passage)-[m:MENTIONS {extractor_version: $v}]->(c:Concept)
     RETURN p.passage_id AS p, c.name AS n, c.type AS t, m.confidence AS c, m.extractor_versions AS scopes`,
    { v: version } as never
  )
  const key = (r: Record<string, unknown>) => JSON.stringify([r["p"], r["n"], r["t"], Number(r["c"])])
  return {
    pg: pg.map(key).sort(),
    graph: graph.map(key).sort(),
    scopes: [...new Set(graph.map((r) => JSON.stringify(r["scopes"])))]
  }
}

const expectVersionsExact = async () => {
  for (const version of ["batch-v1", "batch-v2"]) {
    const m = await mentionsOf(version)
    expect(m.pg.length).toBeGreaterThan(0)
    // Exactly this version's pairs, each with this version's confidence, each in this version's scope only.
    expect(m.graph).toEqual(m.pg)
    expect(m.scopes).toEqual([JSON.stringify([version])])
  }
  // Passages both versions mention hold both scopes; the others only their own.
  const shared = await scalar(`SELECT count(*) FROM (SELECT passage_id FROM passage_concepts GROUP BY passage_id HAVING count(DISTINCT extractor_version) = 2) s`)
  expect(shared).toBeGreaterThan(0)
  expect(await cypherScalar("MATCH (p:Passage) WHERE 'batch-v1' IN p.extractor_versions AND 'batch-v2' IN p.extractor_versions RETURN count(p)")).toBe(shared)
  expect(await cypherScalar("MATCH (p:Passage) RETURN count(p)")).toBe(await scalar("SELECT count(DISTINCT passage_id) FROM passage_concepts"))
  for (const pipeline of ["batch-v1", "batch-v2"]) {
    const v = await run(runner("verify", `--pipeline=${join(dir, `${pipeline}.yaml`)}`, ...model), env())
    expect(v.stdout, pipeline).toContain("all 8 checks passed")
    expect(v.code).toBe(0)
  }
}

const v1 = `--pipeline=${join(dir, "batch-v1.yaml")}`
const v2 = `--pipeline=${join(dir, "batch-v2.yaml")}`

describe("extractor versions coexist", () => {
  it("batch-v1 then batch-v2: both verify, each version's MENTIONS carry exactly its own confidences", async () => {
    await fresh()
    expect((await cli("run", v1)).code).toBe(0)
    expect((await cli("run", v2)).code).toBe(0)
    await expectVersionsExact()
  })

  it("batch-v2 then batch-v1: the same graph", async () => {
    await fresh()
    expect((await cli("run", v2)).code).toBe(0)
    expect((await cli("run", v1)).code).toBe(0)
    await expectVersionsExact()
  })

  it("both started at the same moment: the same graph, no duplicate relationship, no lost scope", async () => {
    await fresh()
    const [a, b] = await Promise.all([cli("run", v1), cli("run", v2)])
    expect(a.stderr + a.stdout).toContain("all 8 checks passed")
    expect(b.stderr + b.stdout).toContain("all 8 checks passed")
    expect([a.code, b.code]).toEqual([0, 0])
    await expectVersionsExact()
    expect(await cypherScalar(`MATCH (a:Passage)-[r:MENTIONS]->(b:Concept) WITH a, b, r.extractor_version AS v, count(r) AS n WHERE n > 1 RETURN count(*)`)).toBe(0)
    expect(await cypherScalar(`MATCH (a:Passage)-[r:FROM_PAPER]->(b:Paper) WITH a, b, count(r) AS n WHERE n > 1 RETURN count(*)`)).toBe(0)
  })
})

describe("the corpus lives", () => {
  beforeAll(fresh)
  const vectors = () => sql("SELECT passage_id::text AS id, embedding::text AS v FROM passages WHERE embedding IS NOT NULL ORDER BY 1")
  const pgDump = async () => JSON.stringify([await vectors(), await sql("SELECT * FROM polymath_etl.embeddings ORDER BY target, key")])

  it("a re-run over unchanged data writes nothing in either store (dumps before and after are equal)", async () => {
    const first = await withReport("run", v1)
    expect(first.code).toBe(0)
    expect(unit(first.report, "embed_passages")).toMatchObject({ read: 16, created: 16, updated: 0, unchanged: 0 })
    const graphBefore = await graphDump(labels)
    const pgBefore = await pgDump()
    const again = await withReport("run", v1)
    expect(again.code).toBe(0)
    for (const u of again.report!.units) {
      expect(u, u.unit).toMatchObject({ created: 0, updated: 0, deleted: 0, rejected: 0 })
      expect(u.unchanged, u.unit).toBe(u.read)
    }
    expect(await graphDump(labels)).toBe(graphBefore)
    expect(await pgDump()).toBe(pgBefore)
  })

  it("an edited passage text re-embeds exactly that passage and updates its node", async () => {
    const before = await vectors()
    const edited = passageId(5)
    await pgExec("UPDATE passages SET passage_text = 'Edited: ' || passage_text WHERE passage_id = $1", [edited], db)
    const r = await withReport("run", v1)
    expect(r.code).toBe(0)
    expect(unit(r.report, "embed_passages")).toMatchObject({ read: 16, created: 0, updated: 1, unchanged: 15 })
    expect(unit(r.report, "Passage")).toMatchObject({ updated: 1, unchanged: 15 })
    const after = await vectors()
    const changed = after.filter((a, i) => a["v"] !== before[i]!["v"]).map((a) => a["id"])
    expect(changed).toEqual([edited])
    expect(await cypherScalar("MATCH (p:Passage {passage_id: $id}) WHERE p.text_preview STARTS WITH 'Edited: ' RETURN count(p)", { id: edited } as never)).toBe(1)
  })

  it("--force re-embeds every passage the source selects, up to date or not", async () => {
    const r = await withReport("run", v1, "--only", "embed_passages", "--force")
    expect(r.code).toBe(0)
    expect(unit(r.report, "embed_passages")).toMatchObject({ read: 16, created: 0, updated: 16, unchanged: 0 })
  })

  it("a failed run removes nothing; the next complete run removes a deleted mention and a deleted paper", async () => {
    // Delete one mention row and a whole paper (its passages and their mentions).
    const [gone] = await sql(`SELECT passage_id::text AS p, concept_name AS n FROM passage_concepts
      WHERE extractor_version = 'batch-v1' AND passage_id = $1 ORDER BY concept_name LIMIT 1`, [passageId(2)])
    await pgExec("DELETE FROM passage_concepts WHERE passage_id = $1 AND concept_name = $2", [gone!["p"], gone!["n"]], db)
    const paper = await scalar("SELECT count(*) FROM passages WHERE doc_id = (SELECT doc_id FROM passages WHERE passage_id = $1)", [passageId(12)])
    expect(paper).toBe(4)
    await pgExec(`DELETE FROM passage_concepts WHERE passage_id IN (SELECT passage_id FROM passages WHERE doc_id = (SELECT doc_id FROM passages WHERE passage_id = $1))`, [passageId(12)], db)
    const doc = (await sql("SELECT doc_id::text AS d FROM passages WHERE passage_id = $1", [passageId(12)]))[0]!["d"]
    await pgExec("DELETE FROM passages WHERE doc_id = $1", [doc], db)
    await pgExec("DELETE FROM documents WHERE doc_id = $1", [doc], db)
    // Give the embed step work, and make the run fail half-way beside it: a passage without a
    // paper stops FROM_PAPER after the nodes were written.
    await pgExec("UPDATE passages SET passage_text = passage_text || ' (revised)' WHERE passage_id = ANY($1::uuid[])", [[6, 7, 8, 9, 10, 11].map(passageId)], db)
    await pgExec("ALTER TABLE passages DROP CONSTRAINT passages_doc_id_fkey", [], db)
    await pgExec("UPDATE passages SET doc_id = NULL WHERE passage_id = $1", [passageId(1)], db)
    const failed = await cli("run", v1)
    expect(failed.code).toBe(1)
    expect(failed.stderr).toContain(`passage_id="${passageId(1)}": column doc_id (end Paper.doc_id of FROM_PAPER) is NULL`)
    expect(failed.stderr).not.toMatch(/\n\s+at /)
    // Nothing was removed after the failed run.
    expect(await cypherScalar("MATCH (p:Paper {doc_id: $d}) RETURN count(p)", { d: doc } as never)).toBe(1)
    expect(await cypherScalar("MATCH (:Passage {passage_id: $p})-[m:MENTIONS]->(:Concept {name: $n}) RETURN count(m)", { p: gone!["p"], n: gone!["n"] } as never)).toBe(1)
    // The embed step beside it was not cut off mid-batch: every vector the failed run wrote is in its checkpoint.
    const failedRun = (await sql("SELECT run_id::text AS id, status FROM polymath_etl.runs ORDER BY started_at DESC LIMIT 1"))[0]!
    expect(failedRun["status"]).toBe("failed")
    const written = await scalar("SELECT count(*) FROM polymath_etl.embeddings WHERE run_id = $1", [failedRun["id"]])
    const checkpointed = await scalar(`SELECT coalesce(sum((counts->>'created')::int + (counts->>'updated')::int), 0)
      FROM polymath_etl.run_units WHERE unit = 'embed_passages' AND run_id = $1`, [failedRun["id"]])
    expect(written).toBe(checkpointed)

    await pgExec("UPDATE passages SET doc_id = $1 WHERE passage_id = $2", [(await sql("SELECT doc_id::text AS d FROM passages WHERE passage_id = $1", [passageId(0)]))[0]!["d"], passageId(1)], db)
    const r = await withReport("run", v1)
    expect(r.code).toBe(0)
    expect(r.report!.resumed).toBe(true)
    expect(await cypherScalar("MATCH (p:Paper {doc_id: $d}) RETURN count(p)", { d: doc } as never)).toBe(0)
    expect(await cypherScalar("MATCH (p:Passage) WHERE p.passage_id IN $ids RETURN count(p)", { ids: [12, 13, 14, 15].map(passageId) } as never)).toBe(0)
    expect(await cypherScalar("MATCH (:Passage {passage_id: $p})-[m:MENTIONS]->(:Concept {name: $n}) RETURN count(m)", { p: gone!["p"], n: gone!["n"] } as never)).toBe(0)
    expect(unit(r.report, "MENTIONS").deleted).toBe(1 + 12)
    expect(unit(r.report, "Paper").deleted).toBe(1)
    // The moved passage now hangs off its new paper only.
    expect(await cypherScalar("MATCH (:Passage {passage_id: $p})-[f:FROM_PAPER]->(:Paper) RETURN count(f)", { p: passageId(1) } as never)).toBe(1)
  })

  it("a run against reset stores is not resumed, and says why; a resumed run that fails says how to start over", async () => {
    await pgExec("UPDATE passages SET doc_id = NULL WHERE passage_id = $1", [passageId(3)], db)
    expect((await cli("run", v1)).code).toBe(1)
    const again = await cli("run", v1)
    expect(again.code).toBe(1)
    expect(again.stderr).toContain("--no-resume starts over")
    // Someone empties the graph; the checkpoints no longer describe it.
    await resetGraph(labels)
    await pgExec("UPDATE passages SET doc_id = (SELECT doc_id FROM passages WHERE passage_id = $2) WHERE passage_id = $1", [passageId(3), passageId(0)], db)
    const r = await withReport("run", v1)
    expect(r.stderr).toMatch(/not resuming run [0-9a-f-]{36}: the graph holds 0 of the \d+ entities its checkpoints say sync_graph\/nodes\[0\]:Paper wrote; starting over/)
    expect(r.code).toBe(0)
    expect(r.report!.resumed).toBe(false)
    expect(unit(r.report, "Passage").created).toBe(12)
    expect(await cypherScalar("MATCH (p:Passage) RETURN count(p)")).toBe(12)
  })
})

describe("the first sync of a version", () => {
  beforeAll(fresh)
  const lastRun = async () => (await sql("SELECT run_id::text AS id, status FROM polymath_etl.runs ORDER BY started_at DESC LIMIT 1"))[0]!
  // The empty mark says "the unit's scope held nothing when this run began its pass"; the others are row identities.
  const seenOf = async (runId: unknown) =>
    (await sql("SELECT count(*) FILTER (WHERE length(id) = 0)::int AS marks, count(*) FILTER (WHERE length(id) > 0)::int AS ids FROM polymath_etl.seen WHERE run_id = $1::uuid", [runId]))[0]!
  const breakPassage = (p: number) => pgExec("UPDATE passages SET doc_id = NULL WHERE passage_id = $1", [passageId(p)], db)
  const repairPassage = (p: number) => pgExec("UPDATE passages SET doc_id = (SELECT doc_id FROM passages WHERE passage_id = $2) WHERE passage_id = $1", [passageId(p), passageId(0)], db)

  it("records no row identities while the scope was empty at the start, across a resume; a later run records them and removes what its source lost", async () => {
    await pgExec("ALTER TABLE passages DROP CONSTRAINT passages_doc_id_fkey", [], db)
    // A first sync of batch-v1 that fails at FROM_PAPER, after the nodes were written.
    await breakPassage(1)
    expect((await cli("run", v1)).code).toBe(1)
    const first = await lastRun()
    expect(first["status"]).toBe("failed")
    // The marks are written before any unit writes (how far the nodes got before FROM_PAPER's bad row stopped the step varies).
    expect(await seenOf(first["id"])).toEqual({ marks: 5, ids: 0 })

    // Resumed, it keeps to the mark: nothing recorded, nothing removed, the graph complete.
    await repairPassage(1)
    const resumed = await withReport("run", v1)
    expect(resumed.code).toBe(0)
    expect(resumed.report!.resumed).toBe(true)
    for (const u of resumed.report!.units) expect(u.deleted, u.unit).toBe(0)
    expect((await mentionsOf("batch-v1")).graph).toEqual((await mentionsOf("batch-v1")).pg)

    // The scope is held now: a run records what it reads (a failed one keeps it for its resume)...
    const [gone] = await sql(`SELECT passage_id::text AS p, concept_name AS n FROM passage_concepts
      WHERE extractor_version = 'batch-v1' AND passage_id = $1 ORDER BY concept_name LIMIT 1`, [passageId(4)])
    await pgExec("DELETE FROM passage_concepts WHERE passage_id = $1 AND concept_name = $2", [gone!["p"], gone!["n"]], db)
    await breakPassage(1)
    expect((await cli("run", v1)).code).toBe(1)
    const second = await lastRun()
    const recorded = await seenOf(second["id"])
    expect(recorded.marks).toBe(0)
    expect(recorded.ids).toBeGreaterThan(16)
    // ...and its sweep removes the mention its source no longer yields.
    await repairPassage(1)
    const swept = await withReport("run", v1)
    expect(swept.code).toBe(0)
    expect(swept.report!.resumed).toBe(true)
    expect(unit(swept.report, "MENTIONS").deleted).toBe(1)
    expect(await cypherScalar("MATCH (:Passage {passage_id: $p})-[m:MENTIONS]->(:Concept {name: $n}) RETURN count(m)", { p: gone!["p"], n: gone!["n"] } as never)).toBe(0)
    expect((await mentionsOf("batch-v1")).graph).toEqual((await mentionsOf("batch-v1")).pg)
  })
})

describe("source contracts and bad rows", () => {
  beforeAll(fresh)

  it("a key column the query does not return fails before any write (validate names file:line:col when it can tell)", async () => {
    const unknown = variant("nokey", `sources:
  papers:
    connection: pg
    key: paper_id
    sql: SELECT DISTINCT d.doc_id, d.title, d.year, d.doi FROM documents d
`)
    const lint = await run(runner("validate", unknown), env())
    expect(lint.code).toBe(2)
    expect(lint.stderr).toMatch(/nokey\.yaml:6:10: source 'papers' does not return column 'paper_id' \(its key\)/)
    // Named in the query but renamed in its select list: validate reads the select list and says so.
    const aliased = variant("aliased", `sources:
  papers:
    connection: pg
    key: doc_id
    sql: SELECT DISTINCT d.doc_id AS id, d.title, d.year, d.doi FROM documents d
`)
    const lintAliased = await run(runner("validate", aliased), env())
    expect(lintAliased.code).toBe(2)
    expect(lintAliased.stderr).toMatch(/aliased\.yaml:6:10: source 'papers' does not return column 'doc_id' \(its key\): its query selects only id, title, year, doi/)
    // Behind a *, only the live check can tell, and it does before writing.
    const starred = variant("starred", `sources:
  papers:
    connection: pg
    key: doc_id
    sql: SELECT * FROM (SELECT DISTINCT d.doc_id AS id, d.title, d.year, d.doi FROM documents d) p
`)
    const r = await cli("run", starred)
    expect(r.code).toBe(2)
    expect(r.stderr).toContain("source papers returns no column 'doc_id'")
    expect(await scalar("SELECT count(*) FROM passages WHERE embedding IS NOT NULL")).toBe(0)
    expect(await cypherScalar("MATCH (n) WHERE n:Paper OR n:Passage OR n:Concept RETURN count(n)")).toBe(0)
  })

  it("a key that is not unique fails naming the source and the key; plan reports it; no row is silently dropped", async () => {
    const dup = variant("dupkey", `sources:
  mentions:
    connection: pg
    key: passage_id
    page_size: 2
    sql: |
      SELECT passage_id, concept_name, concept_type, extractor_version, max(confidence) AS confidence
      FROM passage_concepts WHERE extractor_version = :extractor_version
      GROUP BY passage_id, concept_name, concept_type, extractor_version
`)
    const plan = await cli("plan", dup)
    expect(plan.code).toBe(0)
    expect(plan.stdout).toMatch(/the key of source mentions is not unique, e\.g\. \S+ \(3 rows\)/)
    const r = await cli("run", dup, "--only", "sync_graph")
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(`source "mentions": key (passage_id) is not unique: passage_id=${passageId(0)} occurs more than once`)
  })

  it("NULL, empty and whitespace-only texts: under fail the error names each; under skip they are rejected, listed, recorded, and the run exits 4", async () => {
    const texts = `sources:
  passages_to_embed:
    connection: pg
    key: passage_id
    sql: |
      SELECT p.passage_id,
             CASE p.passage_id WHEN '${passageId(0)}' THEN NULL WHEN '${passageId(1)}' THEN '' WHEN '${passageId(2)}' THEN '  ' || chr(9) || ' ' ELSE p.passage_text END AS passage_text
      FROM passages p WHERE p.passage_id IN (SELECT passage_id FROM passage_concepts WHERE extractor_version = :extractor_version)
`
    const failing = await cli("run", variant("badtexts", texts), "--only", "embed_passages")
    expect(failing.code).toBe(1)
    expect(failing.stderr).toContain(`3 rows cannot be written`)
    expect(failing.stderr).toContain(`passage_id="${passageId(0)}": passage_text is NULL`)
    expect(failing.stderr).toContain(`passage_id="${passageId(1)}": passage_text is empty`)
    expect(failing.stderr).toContain(`passage_id="${passageId(2)}": passage_text is only whitespace`)
    expect(failing.stderr).toContain("hint: fix the source rows, or set on_error: skip")
    expect(await scalar("SELECT count(*) FROM passages WHERE embedding IS NOT NULL")).toBe(0)

    const skipping = variant("skiptexts", `${texts}steps:
  embed_passages:
    on_error: skip
    embed:
      from: passages_to_embed
      text: passage_text
      model: \${params.model}
      into: { table: passages, key: passage_id, vector: embedding, set: { embedding_model: "\${params.model}" } }
`)
    const r = await withReport("run", skipping, "--only", "embed_passages")
    expect(r.code).toBe(4)
    expect(r.stdout).toContain("rejected rows: 3")
    expect(r.stdout).toContain(`passage_text is only whitespace`)
    expect(unit(r.report, "embed_passages")).toMatchObject({ read: 16, created: 13, rejected: 3 })
    const recorded = await sql("SELECT key->>0 AS k, reason FROM polymath_etl.rejected_rows ORDER BY key->>0")
    expect(recorded).toEqual([
      { k: passageId(0), reason: "passage_text is NULL" },
      { k: passageId(1), reason: "passage_text is empty" },
      { k: passageId(2), reason: "passage_text is only whitespace" }
    ])
    // max_rejected bounds how much a run may skip.
    const bounded = await cli("run", variant("boundtexts", readFileSync(join(dir, "skiptexts.yaml"), "utf8").split("\n").slice(2).join("\n").replace("on_error: skip", "on_error: skip\n    max_rejected: 2")), "--only", "embed_passages", "--no-resume")
    expect(bounded.code).toBe(1)
    expect(bounded.stderr).toContain("has rejected 3 rows, more than its max_rejected (2)")
  })

  it("graph rows with a NULL key or a missing endpoint: rejected under skip, listed, the rest written, exit 4", async () => {
    const orphans = variant("orphanrows", `sources:
  mentions:
    connection: pg
    key: [passage_id, concept_name, concept_type]
    sql: |
      SELECT passage_id, concept_name, concept_type, extractor_version, max(confidence) AS confidence
      FROM passage_concepts WHERE extractor_version = :extractor_version
      GROUP BY passage_id, concept_name, concept_type, extractor_version
      UNION ALL SELECT '${passageId(0)}'::uuid, 'no such concept', 'method', :extractor_version, 0.5
      UNION ALL SELECT '${passageId(1)}'::uuid, 'graph attention network', NULL, :extractor_version, 0.5
steps:
  sync_graph:
    on_error: skip
    graph:
      connection: graph
      lineage: { extractor_versions: "\${params.extractor_version}" }
      nodes:
        - { label: Passage, from: passages, key: passage_id, properties: [doc_id, section, text_preview] }
        - { label: Concept, from: concepts, key: [name, type] }
      relationships:
        - type: MENTIONS
          from: mentions
          start: Passage(passage_id)
          end: "Concept(name: concept_name, type: concept_type)"
          key: [extractor_version]
          properties: [confidence]
`)
    const r = await withReport("run", orphans, "--only", "sync_graph")
    expect(r.code).toBe(4)
    expect(r.stdout).toContain("rejected rows: 2")
    expect(r.stdout).toContain(`concept_type=null): column concept_type (end Concept.type of MENTIONS) is NULL`)
    expect(r.stdout).toContain(`no Concept node with name="no such concept", type="method" (end of MENTIONS)`)
    const mentions = await scalar("SELECT count(*) FROM (SELECT DISTINCT passage_id, concept_name, concept_type FROM passage_concepts WHERE extractor_version = 'batch-v1') m")
    expect(unit(r.report, "MENTIONS")).toMatchObject({ read: mentions + 2, created: mentions, rejected: 2 })
    expect(await cypherScalar("MATCH ()-[m:MENTIONS {extractor_version: 'batch-v1'}]->() RETURN count(m)")).toBe(mentions)
  })

  it("verify runs SQL checks read-only: a writing check fails and writes nothing", async () => {
    const rows = await scalar("SELECT count(*) FROM passage_concepts")
    const writing = variant("writingcheck", `verify:
  - name: sneaky
    sql: WITH d AS (DELETE FROM passage_concepts RETURNING 1) SELECT count(*) FROM d
    expect: { equals: 0 }
`)
    const r = await cli("verify", writing)
    expect(r.code).toBe(3)
    expect(r.stdout).toMatch(/FAIL {2}sneaky: error: .*read-only/)
    expect(await scalar("SELECT count(*) FROM passage_concepts")).toBe(rows)
  })
})

describe("two mappings of one label", () => {
  beforeAll(fresh)
  // Concept nodes from two sources of one step, both mirrored in one scope: what one source
  // yields must never look "no longer yielded" to the other's sweep.
  const twoSources = () => {
    const file = join(dir, "two-concepts.yaml")
    writeFileSync(file, `pipeline: two-concepts
params:
  extractor_version: batch-v1
  model: unused    # the tests' runner sets it for every pipeline
connections:
  pg:
    postgres: { dsn: "\${env.POSTGRES_DSN}" }
  graph:
    neo4j: { uri: "\${env.NEO4J_URI}", user: "\${env.NEO4J_USER:-neo4j}", password: "\${env.NEO4J_PASSWORD:-}" }
sources:
  methods:
    connection: pg
    key: [name, type]
    sql: SELECT DISTINCT concept_name AS name, concept_type AS type FROM passage_concepts WHERE extractor_version = :extractor_version AND concept_type = 'method'
  others:
    connection: pg
    key: [name, type]
    sql: SELECT DISTINCT concept_name AS name, concept_type AS type FROM passage_concepts WHERE extractor_version = :extractor_version AND concept_type <> 'method'
steps:
  sync:
    graph:
      connection: graph
      lineage: { extractor_versions: "\${params.extractor_version}" }
      on_missing: delete
      nodes:
        - { label: Concept, from: methods, key: [name, type] }
        - { label: Concept, from: others, key: [name, type] }
`)
    return `--pipeline=${file}`
  }
  const concepts = () => scalar("SELECT count(*) FROM (SELECT DISTINCT concept_name, concept_type FROM passage_concepts WHERE extractor_version = 'batch-v1') c")

  it("re-runs keep every node both sources yield; a row one source loses removes exactly its node", async () => {
    const pipeline = twoSources()
    const expected = await concepts()
    expect(expected).toBeGreaterThan(2)
    for (const attempt of ["first", "second", "third"]) {
      const r = await withReport("run", pipeline)
      expect(r.code, `${attempt}: ${r.stderr}`).toBe(0)
      for (const u of r.report!.units) expect(u.deleted, `${attempt} ${u.unit}`).toBe(0)
      expect(await cypherScalar("MATCH (c:Concept) WHERE 'batch-v1' IN c.extractor_versions RETURN count(c)"), attempt).toBe(expected)
    }
    const [gone] = await sql("SELECT concept_name AS n FROM passage_concepts WHERE extractor_version = 'batch-v1' AND concept_type = 'method' ORDER BY 1 LIMIT 1")
    await pgExec("DELETE FROM passage_concepts WHERE extractor_version = 'batch-v1' AND concept_type = 'method' AND concept_name = $1", [gone!["n"]], db)
    const r = await withReport("run", pipeline)
    expect(r.code).toBe(0)
    expect(r.report!.units.reduce((n, u) => n + u.deleted, 0)).toBe(1)
    expect(await cypherScalar("MATCH (c:Concept) WHERE 'batch-v1' IN c.extractor_versions RETURN count(c)")).toBe(expected - 1)
    expect(await cypherScalar("MATCH (c:Concept {name: $n, type: 'method'}) RETURN count(c)", { n: gone!["n"] } as never)).toBe(0)
  })
})
