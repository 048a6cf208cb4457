/**
 * The two scripts the runner's graph step is measured against, written here from their
 * descriptions (never copied): both read batch-v1 from Postgres and write the same graph
 * (Paper, Passage, typed Concept nodes; FROM_PAPER and MENTIONS relationships).
 *
 * - seed: the method of ../shared/seeds/batch-v1-integration-plan.md: four queries read in full,
 *   then UNWIND batches of 500 with MERGE and no uniqueness constraints (every MERGE scans its label).
 * - hand: a tuned script: uniqueness constraints first, the pipeline's own source queries, large
 *   UNWIND batches, MERGE on the constrained keys and MATCH on them for relationship endpoints.
 *
 * Each runs in a child process (graph-child.ts) so its wall time and peak RSS are measured like the
 * runner's; progress goes to stderr as `progress <what> <done>/<total>` so a capped run says how far it got.
 */
import { randomUUID } from "node:crypto"
import neo4j from "neo4j-driver"
import type { Driver } from "neo4j-driver"
import { connect, queryRows } from "../fixtures/src/pgClient.ts"
import { batchV1Sources } from "./graph-sources.ts"

export interface ContenderConfig {
  readonly dsn: string
  readonly neo4jUri: string
  readonly neo4jUser: string
  readonly neo4jPassword: string
  readonly extractorVersion: string
  /** Rows per UNWIND for the hand-tuned script. */
  readonly handBatch: number
}

type Rows = ReadonlyArray<Record<string, unknown>>

const progress = (what: string, done: number, total: number): void => void process.stderr.write(`progress ${what} ${done}/${total}\n`)

const openDriver = async (c: ContenderConfig): Promise<Driver> => {
  const auth = c.neo4jPassword === "" ? undefined : neo4j.auth.basic(c.neo4jUser, c.neo4jPassword)
  const driver = neo4j.driver(c.neo4jUri, auth, { disableLosslessIntegers: true })
  await driver.verifyConnectivity()
  return driver
}

const readAll = async (dsn: string, queries: ReadonlyArray<readonly [string, string]>, params: ReadonlyArray<unknown>): Promise<Record<string, Rows>> => {
  const client = await connect(dsn)
  try {
    const out: Record<string, Rows> = {}
    for (const [name, sql] of queries) out[name] = await queryRows(client, sql, params)
    return out
  } finally {
    await client.end()
  }
}

const inBatches = async (what: string, rows: Rows, size: number, write: (batch: Rows) => Promise<unknown>): Promise<void> => {
  for (let i = 0; i < rows.length; i += size) {
    await write(rows.slice(i, i + size))
    progress(what, Math.min(i + size, rows.length), rows.length)
  }
}

// The seed's four queries, as the plan describes them (no GROUP BY on mentions: MERGE folds repeats).
const seedQueries: ReadonlyArray<readonly [string, string]> = [
  ["passages", `SELECT DISTINCT p.passage_id, p.doc_id, p.section, LEFT(p.passage_text, 200) AS text_preview
    FROM passages p JOIN passage_concepts pc ON p.passage_id = pc.passage_id WHERE pc.extractor_version = $1`],
  ["concepts", "SELECT DISTINCT concept_name, concept_type FROM passage_concepts WHERE extractor_version = $1"],
  ["mentions", "SELECT passage_id, concept_name, concept_type, confidence FROM passage_concepts WHERE extractor_version = $1"],
  ["documents", `SELECT DISTINCT d.doc_id, d.title, d.year, d.doi FROM documents d JOIN passages p ON d.doc_id = p.doc_id
    JOIN passage_concepts pc ON p.passage_id = pc.passage_id WHERE pc.extractor_version = $1`]
]

/** The seed's method: UNWIND 500, MERGE without constraints, one auto-committed query per batch. */
export const seedContender = async (c: ContenderConfig): Promise<void> => {
  const data = await readAll(c.dsn, seedQueries, [c.extractorVersion])
  const driver = await openDriver(c)
  const size = 500
  try {
    await inBatches("Paper", data["documents"]!, size, (batch) =>
      driver.executeQuery(
        `UNWIND $docs AS d MERGE (p:Paper {doc_id: d.doc_id})
         SET p.title = d.title, p.year = d.year, p.doi = d.doi, p.synced_at = datetime()`,
        { docs: batch }
      ))
    await inBatches("Passage", data["passages"]!, size, (batch) =>
      driver.executeQuery(
        `UNWIND $passages AS p MERGE (passage:Passage {passage_id: p.passage_id})
         SET passage.doc_id = p.doc_id, passage.section = p.section, passage.text_preview = p.text_preview, passage.synced_at = datetime()
         WITH passage, p MATCH (paper:Paper {doc_id: p.doc_id}) MERGE (passage)-[:FROM_PAPER]->(paper)`,
        { passages: batch }
      ))
    const byType = new Map<string, Array<unknown>>()
    for (const r of data["concepts"]!) {
      const t = String(r["concept_type"])
      byType.set(t, [...(byType.get(t) ?? []), r["concept_name"]])
    }
    let done = 0
    for (const [type, names] of byType) {
      // One query per type, all its names at once, as the plan does.
      await driver.executeQuery("UNWIND $names AS name MERGE (c:Concept {name: name, type: $type}) SET c.synced_at = datetime()", { names, type })
      progress("Concept", (done += names.length), data["concepts"]!.length)
    }
    await inBatches("MENTIONS", data["mentions"]!, size, (batch) =>
      driver.executeQuery(
        `UNWIND $mentions AS m MATCH (p:Passage {passage_id: m.passage_id}) MATCH (c:Concept {name: m.concept_name, type: m.concept_type})
         MERGE (p)-[r:MENTIONS]->(c) SET r.confidence = m.confidence, r.synced_at = datetime()`,
        { mentions: batch }
      ))
  } finally {
    await driver.close()
  }
}

// Typed labels as the pipeline maps them; fixed identifiers, so they can be spliced into the text.
const conceptLabels: Readonly<Record<string, string>> = { method: "Method", problem: "Problem", domain: "Domain", entity: "Entity" }

// The lineage and stamp (run_id, synced_at) the runner writes too, so both write the same graph.
// (Until 2026-12-07 the script left run_id out: one property fewer per entity, ~4-8% of a MENTIONS write.)
const lineage = (v: string) =>
  `${v}.extractor_versions = CASE WHEN $version IN coalesce(${v}.extractor_versions, []) THEN ${v}.extractor_versions ELSE coalesce(${v}.extractor_versions, []) + $version END, ${v}.run_id = $runId, ${v}.synced_at = datetime()`

/** The hand-tuned script: constraints first, big batches, MERGE / MATCH on constrained keys, one transaction per batch. */
export const handContender = async (c: ContenderConfig): Promise<void> => {
  const driver = await openDriver(c)
  try {
    for (const stmt of [
      "CREATE CONSTRAINT hand_paper IF NOT EXISTS FOR (n:Paper) REQUIRE n.doc_id IS UNIQUE",
      "CREATE CONSTRAINT hand_passage IF NOT EXISTS FOR (n:Passage) REQUIRE n.passage_id IS UNIQUE",
      "CREATE CONSTRAINT hand_concept IF NOT EXISTS FOR (n:Concept) REQUIRE (n.name, n.type) IS UNIQUE"
    ]) await driver.executeQuery(stmt)
    await driver.executeQuery("CALL db.awaitIndexes(300)")
    const sources = batchV1Sources()
    const data = await readAll(c.dsn, [["papers", sources.papers], ["passages", sources.passages], ["concepts", sources.concepts], ["mentions", sources.mentions]], [c.extractorVersion])
    const size = c.handBatch
    const version = c.extractorVersion
    const runId = randomUUID()
    await inBatches("Paper", data["papers"]!, size, (rows) =>
      driver.executeQuery(`UNWIND $rows AS row MERGE (n:Paper {doc_id: row.doc_id}) SET n.title = row.title, n.year = row.year, n.doi = row.doi, ${lineage("n")}`, { rows, version, runId }))
    await inBatches("Passage", data["passages"]!, size, (rows) =>
      driver.executeQuery(
        `UNWIND $rows AS row MERGE (n:Passage {passage_id: row.passage_id}) SET n.doc_id = row.doc_id, n.section = row.section, n.text_preview = row.text_preview, ${lineage("n")}`,
        { rows, version, runId }
      ))
    const concepts = data["concepts"]!
    for (const [type, label] of Object.entries(conceptLabels)) {
      const rows = concepts.filter((r) => r["type"] === type)
      await inBatches(`Concept:${label}`, rows, size, (batch) =>
        driver.executeQuery(`UNWIND $rows AS row MERGE (n:Concept {name: row.name, type: row.type}) SET n:${label}, ${lineage("n")}`, { rows: batch, version, runId }))
    }
    await inBatches("FROM_PAPER", data["passages"]!, size, (rows) =>
      driver.executeQuery(
        `UNWIND $rows AS row MATCH (a:Passage {passage_id: row.passage_id}) MATCH (b:Paper {doc_id: row.doc_id})
         MERGE (a)-[r:FROM_PAPER]->(b) SET ${lineage("r")}`,
        { rows, version, runId }
      ))
    await inBatches("MENTIONS", data["mentions"]!, size, (rows) =>
      driver.executeQuery(
        `UNWIND $rows AS row MATCH (a:Passage {passage_id: row.passage_id}) MATCH (b:Concept {name: row.concept_name, type: row.concept_type})
         MERGE (a)-[r:MENTIONS {extractor_version: row.extractor_version}]->(b) SET r.confidence = row.confidence, ${lineage("r")}`,
        { rows, version, runId }
      ))
  } finally {
    await driver.close()
  }
}
