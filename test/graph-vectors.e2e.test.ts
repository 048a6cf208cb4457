/**
 * A node mapping that copies a pgvector column into the graph writes a LIST<FLOAT> (not
 * the vector's text), and its declared `vector_index` is a Neo4j vector index that answers
 * a kNN query in the graph: a passage's own vector finds that passage first.
 */
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { loadSmallCorpus, passageId } from "./corpus.ts"
import { cypher, cypherWrite, e2eEnv, pgRows, resetDatabase, resetGraph, run, runner } from "./support.ts"

const db = "polymath_graph_vectors"
const dir = mkdtempSync(join(tmpdir(), "graph-vectors-"))
const file = join(dir, "graph-vectors.yaml")
writeFileSync(file, `pipeline: graph-vectors
connections:
  pg: { postgres: { dsn: "\${env.POSTGRES_DSN}" } }
  graph: { neo4j: { uri: "\${env.NEO4J_URI}", user: "\${env.NEO4J_USER:-neo4j}", password: "\${env.NEO4J_PASSWORD:-}" } }
sources:
  texts: { connection: pg, key: passage_id, sql: "SELECT passage_id, passage_text FROM passages WHERE passage_id::text LIKE '%0000000_'" }
  vectors: { connection: pg, key: passage_id, sql: "SELECT passage_id, section, embedding FROM passages WHERE embedding IS NOT NULL" }
steps:
  embed:
    embed: { from: texts, text: passage_text, model: bge-small-en-v1.5-q, into: { table: passages, key: passage_id, vector: embedding } }
  graph:
    after: [embed]
    graph:
      connection: graph
      nodes:
        - label: Passage
          from: vectors
          key: passage_id
          properties: [section, embedding]
          vector_index: { property: embedding, dimensions: 384, similarity: cosine }
`)

describe("vectors in the graph", () => {
  beforeAll(async () => {
    await resetDatabase(db)
    await loadSmallCorpus(db)
    await resetGraph()
    await cypherWrite("DROP INDEX Passage_embedding_vector IF EXISTS")
  })

  it("writes a LIST<FLOAT> property and a vector index that finds a passage by its own vector", async () => {
    const r = await run(runner("run", `--pipeline=${file}`), e2eEnv(db))
    expect(r.code, r.stderr).toBe(0)
    const embedded = (await pgRows("SELECT count(*)::int AS n FROM passages WHERE embedding IS NOT NULL", [], db))[0] as { n: number }
    expect(embedded.n).toBe(10)
    const [shape] = await cypher("MATCH (p:Passage) RETURN count(p) AS n, collect(DISTINCT valueType(p.embedding)) AS types, min(size(p.embedding)) AS dims")
    expect(shape).toMatchObject({ n: 10, dims: 384 })
    expect(String((shape as { types: ReadonlyArray<string> }).types)).toMatch(/^LIST<FLOAT/)
    const [index] = await cypher("SHOW VECTOR INDEXES YIELD name, labelsOrTypes, properties, options WHERE name = 'Passage_embedding_vector' RETURN name, labelsOrTypes, properties, options.indexConfig AS config")
    expect(index).toMatchObject({ labelsOrTypes: ["Passage"], properties: ["embedding"] })
    expect((index as { config: Record<string, unknown> }).config).toMatchObject({ "vector.dimensions": 384, "vector.similarity_function": "COSINE" })
    await cypherWrite("CALL db.awaitIndexes(60)")
    const target = passageId(3)
    const found = await cypher(
      "MATCH (q:Passage {passage_id: $id}) CALL db.index.vector.queryNodes('Passage_embedding_vector', 3, q.embedding) YIELD node, score RETURN node.passage_id AS id, score",
      { id: target }
    )
    expect((found[0] as { id: string }).id).toBe(target)
    expect((found[0] as { score: number }).score).toBeGreaterThan(0.99)

    // Idempotent: a second run finds the index and writes nothing new.
    const again = await run(runner("run", `--pipeline=${file}`), e2eEnv(db))
    expect(again.code, again.stderr).toBe(0)
  })
})
