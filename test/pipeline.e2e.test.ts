import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { cypherScalar, e2eEnv, loadFixtures, pgRows, pgScalar, resetDatabase, resetGraph, run, runner, start } from "./support.ts"

// The test model stands in for BGE-M3 (which cannot be downloaded here); the int8
// build keeps the suite fast on two cores.
const model = ["--set", "model=bge-small-en-v1.5-q"]

const v1Passages = `SELECT count(DISTINCT p.passage_id) FROM passages p JOIN passage_concepts pc USING (passage_id)
  WHERE pc.extractor_version = $1 AND p.embedding IS NOT NULL`

interface GraphCounts {
  papers: number
  passages: number
  concepts: number
  mentions: number
  fromPaper: number
  typed: number
}

const graphCounts = async (): Promise<GraphCounts> => ({
  papers: await cypherScalar("MATCH (n:Paper) RETURN count(n)"),
  passages: await cypherScalar("MATCH (n:Passage) RETURN count(n)"),
  concepts: await cypherScalar("MATCH (n:Concept) RETURN count(n)"),
  mentions: await cypherScalar("MATCH (:Passage)-[r:MENTIONS]->(:Concept) RETURN count(r)"),
  fromPaper: await cypherScalar("MATCH (:Passage)-[r:FROM_PAPER]->(:Paper) RETURN count(r)"),
  typed: await cypherScalar("MATCH (n:Concept) WHERE n:Method OR n:Problem OR n:Domain OR n:Entity RETURN count(n)")
})

const distinctConcepts = (version: string) =>
  pgScalar("SELECT count(*) FROM (SELECT DISTINCT concept_name, concept_type FROM passage_concepts WHERE extractor_version = $1) t", [version])

const reportOf = (file: string) => JSON.parse(readFileSync(file, "utf8")) as { units: Array<{ unit: string; read: number; created: number; updated: number; unchanged: number; deleted: number }>; resumed: boolean }

const fresh = async () => {
  await resetDatabase()
  await loadFixtures()
  await resetGraph()
}

describe("batch-v1 end to end", () => {
  beforeAll(fresh)

  it("an invalid pipeline exits 2 before connecting", async () => {
    const bad = join(tmpdir(), `bad-${process.pid}.yaml`)
    const text = readFileSync("pipelines/batch-v1.yaml", "utf8").replace("key: passage_id\n", "kee: passage_id\n")
    await import("node:fs").then((fs) => fs.writeFileSync(bad, text))
    // A DSN to a closed port: connecting would fail with exit 1, not 2.
    const r = await run(runner("run", `--pipeline=${bad}`, ...model), { ...e2eEnv(), POSTGRES_DSN: "postgres://x:secret@127.0.0.1:9/none" })
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/bad-\d+\.yaml:\d+:\d+: unknown key 'kee' in sources\.passages_to_embed/)
    expect(r.stderr).not.toContain("secret")
    expect(r.stderr).not.toMatch(/\n\s+at /)
  })

  it("--dry-run prints the plan with the seed's counts and writes nothing", async () => {
    const r = await run(runner("run", "--pipeline=batch-v1", "--dry-run", ...model))
    // The plan goes to stdout, nothing else does.
    expect(r.stdout).toMatch(/^\[DRY RUN\] batch-v1/)
    expect(r.stderr).not.toContain("[DRY RUN]")
    expect(r.code).toBe(0)
    expect(r.stdout).toContain("973 texts to embed with bge-small-en-v1.5-q into passages.embedding  (source passages_to_embed): 973 new, 0 changed, 0 up to date")
    expect(r.stdout).toContain("740 Paper nodes")
    expect(r.stdout).toContain("973 Passage nodes")
    expect(r.stdout).toContain(`${await distinctConcepts("batch-v1")} Concept nodes`)
    expect(r.stdout).toContain("5954 MENTIONS relationships")
    expect(r.stdout).toContain("973 FROM_PAPER relationships")
    expect(await pgScalar(v1Passages, ["batch-v1"])).toBe(0)
    expect(await pgScalar("SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'polymath_etl'")).toBe(0)
    expect((await graphCounts()).passages).toBe(0)
  })

  it("a run embeds and syncs exactly the seed's counts and its verification passes", async () => {
    const report = join(tmpdir(), `run1-${process.pid}.json`)
    const r = await run(runner("run", "--pipeline=batch-v1", ...model, "--json", report))
    expect(r.stderr + r.stdout).toContain("all 8 checks passed")
    expect(r.code).toBe(0)
    expect(await pgScalar(v1Passages, ["batch-v1"])).toBe(973)
    expect(await pgScalar("SELECT count(*) FROM passages WHERE embedding_model = 'bge-small-en-v1.5-q'")).toBe(973)
    // Distractors are untouched: nothing else got a vector from this run.
    expect(await pgScalar("SELECT count(*) FROM passages WHERE embedding IS NOT NULL AND embedding_model IS DISTINCT FROM 'bge-small-en-v1.5-q' AND embedding_model IS DISTINCT FROM 'legacy'")).toBe(0)
    const counts = await graphCounts()
    expect(counts).toEqual({ papers: 740, passages: 973, concepts: await distinctConcepts("batch-v1"), mentions: 5954, fromPaper: 973, typed: await distinctConcepts("batch-v1") })
    // Typed labels as in the seed, with the type property kept.
    expect(await cypherScalar("MATCH (c:Concept:Method) WHERE c.type <> 'method' RETURN count(c)")).toBe(0)
    expect(await cypherScalar("MATCH (c:Concept:Method) RETURN count(c)")).toBeGreaterThan(0)
    // Lineage on nodes and relationships: the version as a set, and the run that wrote them.
    expect(await cypherScalar("MATCH ()-[r:MENTIONS]->() WHERE r.run_id IS NULL OR r.synced_at IS NULL OR r.extractor_version <> 'batch-v1' OR r.extractor_versions <> ['batch-v1'] RETURN count(r)")).toBe(0)
    expect(await cypherScalar("MATCH (n) WHERE (n:Paper OR n:Passage OR n:Concept) AND n.extractor_versions <> ['batch-v1'] RETURN count(n)")).toBe(0)
    // Integers stay integers.
    expect(await cypherScalar("MATCH (p:Paper) WHERE p.year IS NOT NULL AND valueType(p.year) STARTS WITH 'INTEGER' RETURN count(p)")).toBeGreaterThan(0)
    const rep = reportOf(report)
    expect(rep.units.find((u) => u.unit === "embed_passages")).toMatchObject({ read: 973, created: 973, updated: 0, unchanged: 0 })
    const ledger = await pgRows("SELECT status FROM polymath_etl.runs")
    expect(ledger.map((x) => x["status"])).toEqual(["succeeded"])
  })

  it("a second run writes nothing new and changes no count", async () => {
    const before = await graphCounts()
    const vectors = await pgScalar("SELECT count(*) FROM passages WHERE embedding IS NOT NULL")
    const report = join(tmpdir(), `run2-${process.pid}.json`)
    const r = await run(runner("run", "--pipeline=batch-v1", ...model, "--json", report))
    expect(r.code).toBe(0)
    expect(await graphCounts()).toEqual(before)
    expect(await pgScalar("SELECT count(*) FROM passages WHERE embedding IS NOT NULL")).toBe(vectors)
    for (const u of reportOf(report).units) {
      expect(u, u.unit).toMatchObject({ created: 0, updated: 0, deleted: 0 })
      expect(u.unchanged, u.unit).toBe(u.read)
    }
  })

  it("batch-v2 (a 3-line pipeline extending batch-v1) touches only batch-v2 data", async () => {
    const v1Only = `SELECT md5(string_agg(p.embedding::text, ',' ORDER BY p.passage_id)) AS h FROM passages p
      WHERE EXISTS (SELECT 1 FROM passage_concepts pc WHERE pc.passage_id = p.passage_id AND pc.extractor_version = 'batch-v1')`
    const before = await pgRows(v1Only)
    const v1OnlyPassages = await cypherScalar("MATCH (p:Passage) WHERE p.extractor_versions = ['batch-v1'] RETURN count(p)")
    const v2Passages = await pgScalar("SELECT count(DISTINCT passage_id) FROM passage_concepts WHERE extractor_version = 'batch-v2'")
    const v2OnlyUnembedded = await pgScalar(`SELECT count(DISTINCT pc.passage_id) FROM passage_concepts pc JOIN passages p USING (passage_id)
      WHERE pc.extractor_version = 'batch-v2' AND p.embedding IS NULL`)
    expect(v2Passages).toBeGreaterThan(0)
    expect(v2OnlyUnembedded).toBeGreaterThan(0)
    const r = await run(runner("run", "--pipeline=batch-v2", ...model))
    expect(r.stdout).toContain("checks passed")
    expect(r.code).toBe(0)
    // v1 vectors are byte-identical; every v2 passage now has one.
    expect(await pgRows(v1Only)).toEqual(before)
    expect(await pgScalar(v1Passages, ["batch-v2"])).toBe(v2Passages)
    expect(await pgScalar("SELECT count(*) FROM passages WHERE embedding_model = 'bge-small-en-v1.5-q'")).toBe(973 + v2OnlyUnembedded)
    const shared = await pgScalar(`SELECT count(DISTINCT passage_id) FROM passage_concepts WHERE extractor_version = 'batch-v2'
      AND passage_id IN (SELECT passage_id FROM passage_concepts WHERE extractor_version = 'batch-v1')`)
    expect(await cypherScalar("MATCH (p:Passage) RETURN count(p)")).toBe(973 + v2Passages - shared)
    // Shared passages now hold both versions; the others keep only their own. batch-v1's MENTIONS are all still there.
    expect(await cypherScalar("MATCH (p:Passage) WHERE p.extractor_versions = ['batch-v1'] RETURN count(p)")).toBe(v1OnlyPassages - shared)
    expect(await cypherScalar("MATCH (p:Passage) WHERE p.extractor_versions = ['batch-v1', 'batch-v2'] RETURN count(p)")).toBe(shared)
    expect(await cypherScalar("MATCH ()-[r:MENTIONS {extractor_version: 'batch-v1'}]->() RETURN count(r)")).toBe(5954)
    // And batch-v1 still verifies after batch-v2 ran.
    const verifyV1 = await run(runner("verify", "--pipeline=batch-v1", ...model))
    expect(verifyV1.stdout).toContain("all 8 checks passed")
  })
})

describe("interrupted runs", () => {
  beforeAll(fresh)

  it("a run killed with SIGKILL mid-way and restarted ends with exactly the clean run's counts", async () => {
    const { child, done } = start(runner("run", "--pipeline=batch-v1", ...model))
    // Kill once some vectors are committed but the run is not finished.
    const deadline = Date.now() + 120_000
    let partial = 0
    while (Date.now() < deadline) {
      partial = await pgScalar(v1Passages, ["batch-v1"]).catch(() => 0)
      if (partial > 0) break
      await new Promise((r) => setTimeout(r, 100))
    }
    child.kill("SIGKILL")
    const killed = await done
    expect(killed.signal).toBe("SIGKILL")
    expect(partial).toBeGreaterThan(0)
    expect(await pgScalar(v1Passages, ["batch-v1"])).toBeLessThan(973)
    expect((await pgRows("SELECT status FROM polymath_etl.runs")).map((x) => x["status"])).toEqual(["running"])

    const report = join(tmpdir(), `resume-${process.pid}.json`)
    const r = await run(runner("run", "--pipeline=batch-v1", ...model, "--json", report))
    expect(r.code).toBe(0)
    expect(reportOf(report).resumed).toBe(true)
    expect(await pgScalar(v1Passages, ["batch-v1"])).toBe(973)
    expect(await graphCounts()).toEqual({ papers: 740, passages: 973, concepts: await distinctConcepts("batch-v1"), mentions: 5954, fromPaper: 973, typed: await distinctConcepts("batch-v1") })
    expect((await pgRows("SELECT status FROM polymath_etl.runs")).map((x) => x["status"])).toEqual(["succeeded"])
  })

  it("SIGINT releases everything and exits 130; the ledger says interrupted", async () => {
    await resetDatabase()
    await loadFixtures()
    const { child, done } = start(runner("run", "--pipeline=batch-v1", ...model))
    const deadline = Date.now() + 120_000
    while (Date.now() < deadline && (await pgScalar(v1Passages, ["batch-v1"]).catch(() => 0)) === 0) await new Promise((r) => setTimeout(r, 100))
    child.kill("SIGINT")
    const r = await done
    expect(r.code).toBe(130)
    expect(r.stderr).toContain("interrupted")
    expect((await pgRows("SELECT status FROM polymath_etl.runs")).map((x) => x["status"])).toEqual(["interrupted"])
    // Its connections are gone: only ours remains in pg_stat_activity for this database.
    expect(await pgScalar("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name LIKE 'polymath-etl%'")).toBe(0)
  })
})

describe("runner commands", () => {
  beforeAll(fresh)

  it("nx run runner:exec --dry-run prints the plan through Nx", async () => {
    const r = await run([join(process.cwd(), "node_modules/nx/dist/bin/nx.js"), "run", "runner:exec", "--pipeline=batch-v1", "--dry-run", "--set=model=bge-small-en-v1.5-q"], { ...e2eEnv(), NX_DAEMON: "false", NX_NO_CLOUD: "true" })
    expect(r.code).toBe(0)
    expect(r.stdout).toContain("740 Paper nodes")
    expect(r.stdout).toContain("5954 MENTIONS relationships")
  })

  it("--only runs one step; verify exits 3 while checks fail and 0 once they pass", async () => {
    const only = await run(runner("run", "--pipeline=batch-v1", ...model, "--only", "sync_graph"))
    expect(only.code).toBe(0)
    expect(await pgScalar(v1Passages, ["batch-v1"])).toBe(0)
    expect((await graphCounts()).mentions).toBe(5954)
    const failing = await run(runner("verify", "--pipeline=batch-v1", ...model))
    expect(failing.code).toBe(3)
    expect(failing.stdout).toMatch(/FAIL {2}every passage of this run has an embedding: got 0, expected = 973/)
    const embed = await run(runner("run", "--pipeline=batch-v1", ...model, "--only", "embed_passages"))
    expect(embed.code).toBe(0)
    const passing = await run(runner("verify", "--pipeline=batch-v1", ...model))
    expect(passing.stdout).toContain("all 8 checks passed")
    expect(passing.code).toBe(0)
  })

  it("a model whose dimension does not fit the column stops before any write", async () => {
    const r = await run(runner("run", "--pipeline=batch-v1", "--set", "model=bge-m3", "--set", "extractor_version=batch-v2"))
    expect(r.code).toBe(2)
    expect(r.stderr).toContain("model bge-m3 makes 1024-d vectors but passages.embedding is vector(384)")
    expect(await pgScalar("SELECT count(*) FROM polymath_etl.runs WHERE params->>'extractor_version' = 'batch-v2'")).toBe(0)
  })
})

describe("failures", () => {
  beforeAll(fresh)

  it("connection loss mid-run is retried with backoff and the run completes with the clean counts", async () => {
    const report = join(tmpdir(), `retry-${process.pid}.json`)
    const { done } = start(runner("run", "--pipeline=batch-v1", ...model, "--json", report))
    // Cut the runner's Postgres connections (not the one holding the run lock) a few times while it works.
    let cuts = 0
    const deadline = Date.now() + 60_000
    while (cuts < 3 && Date.now() < deadline) {
      // Only sessions in the middle of a statement: killing idle pooled ones is invisible to the runner.
      const n = await pgScalar(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
        WHERE datname = current_database() AND application_name LIKE 'polymath-etl%' AND application_name NOT LIKE '%:run-lock'
          AND state = 'active' AND pid <> pg_backend_pid()`)
      if (n > 0) cuts++
      await new Promise((r) => setTimeout(r, n > 0 ? 500 : 10))
    }
    const r = await done
    expect(cuts).toBeGreaterThan(0)
    expect(r.stderr + r.stdout).toContain("all 8 checks passed")
    expect(r.code).toBe(0)
    const rep = reportOf(report) as unknown as { units: Array<{ retried: number }> }
    expect(rep.units.reduce((s, u) => s + u.retried, 0)).toBeGreaterThan(0)
    expect(await pgScalar(v1Passages, ["batch-v1"])).toBe(973)
    expect((await graphCounts()).mentions).toBe(5954)
  })

  it("bad rows fail fast with the offending row's key; nothing of the failing batch is written", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pipes-"))
    const base = readFileSync("pipelines/batch-v1.yaml", "utf8")
    writeFileSync(join(dir, "batch-v1.yaml"), base)
    // A text column that is NULL for some rows.
    writeFileSync(join(dir, "nulltext.yaml"), `pipeline: nulltext
extends: batch-v1
sources:
  passages_to_embed:
    connection: pg
    key: passage_id
    sql: |
      SELECT p.passage_id, CASE WHEN p.section IS NULL THEN NULL ELSE p.passage_text END AS passage_text
      FROM passages p WHERE p.passage_id IN (SELECT passage_id FROM passage_concepts WHERE extractor_version = :extractor_version)
`)
    const nullText = await run(runner("run", `--pipeline=${join(dir, "nulltext.yaml")}`, ...model, "--only", "embed_passages"))
    expect(nullText.code).toBe(1)
    expect(nullText.stderr).toMatch(/step embed_passages \(source passages_to_embed, keys \S+ \.\. \S+\): \d+ rows? cannot be written:\n {2}- passage_id="[0-9a-f-]{36}": passage_text is NULL/)
    expect(nullText.stderr).not.toMatch(/\n\s+at /)
    // Relationships whose endpoint node does not exist name the rows.
    writeFileSync(join(dir, "orphans.yaml"), `pipeline: orphans
extends: batch-v1
sources:
  mentions:
    connection: pg
    key: [passage_id, concept_name, concept_type]
    sql: |
      SELECT passage_id, concept_name || ' (unknown)' AS concept_name, concept_type, extractor_version, confidence
      FROM passage_concepts WHERE extractor_version = :extractor_version
`)
    const mentionsBefore = await cypherScalar("MATCH ()-[r:MENTIONS]->() RETURN count(r)")
    const orphans = await run(runner("run", `--pipeline=${join(dir, "orphans.yaml")}`, ...model, "--only", "sync_graph"))
    expect(orphans.code).toBe(1)
    expect(orphans.stderr).toMatch(/- passage_id="[0-9a-f-]{36}", concept_name=".* \(unknown\)", concept_type="\w+": no Concept node with name=".* \(unknown\)", type="\w+" \(end of MENTIONS\)/)
    // The batch is all or nothing, and nothing was removed by a failed run.
    expect(await cypherScalar("MATCH ()-[r:MENTIONS]->() RETURN count(r)")).toBe(mentionsBefore)
  })
})
