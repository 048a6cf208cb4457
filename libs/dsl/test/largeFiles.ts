/**
 * Pipeline files at the size limits, shared by the loader's tests and
 * the loading benchmark: one of many params, and the densest file accepted (256 KiB of
 * one flow list: the most YAML nodes per byte).
 */

/** A file declaring `n` params (5 MB at 300,000) around a valid embed step. */
export const manyParamsPipeline = (name: string, n: number): string => `pipeline: ${name}
params:
${Array.from({ length: n }, (_, i) => `  p${i}: ${i}`).join("\n")}
  version: v1
connections:
  pg: { postgres: { dsn: "postgres://etl@localhost/corpus" } }
sources:
  papers: { connection: pg, key: paper_id, sql: "SELECT paper_id, abstract FROM papers WHERE version = :version" }
steps:
  embed_papers:
    embed: { from: papers, text: abstract, model: small, into: { table: papers, key: paper_id, vector: embedding } }
`

/** A valid file just under 256 KiB whose node mapping lists 33,000 properties. */
export const densestPipeline = (name = "densest"): string => `pipeline: ${name}
connections:
  pg: { postgres: { dsn: "postgres://etl@localhost/corpus" } }
  graph: { neo4j: { uri: "bolt://localhost:7687", user: neo4j, password: x } }
sources:
  papers: { connection: pg, key: paper_id, sql: "SELECT * FROM papers" }
steps:
  g:
    graph:
      connection: graph
      nodes:
        - { label: Paper, from: papers, key: paper_id, properties: [${Array.from({ length: 33_000 }, (_, i) => `c${i}`).join(", ")}] }
`
