/**
 * Child-process entry of `bench e2e` for the seed's method end to end, written here from
 * ../shared/seeds/batch-v1-integration-plan.md (never copied), configured by POLYMATH_BENCH_E2E
 * (JSON of `SeedE2eConfig`) so that the parent measures its wall time, CPU and peak RSS:
 *
 * - Tasks 1-2: the passages with batch-v1 concepts and no embedding (the plan's query), embedded in
 *   Python (onnxruntime + tokenizers, the same ONNX file as the runner; the plan uses
 *   sentence-transformers on a GPU, which this machine does not have) in fixed batches of 32 in id
 *   order, then written as the plan writes them: UPDATE and COMMIT per row (vectors-contenders.ts
 *   `seed`). The plan interleaves each batch's embedding with its writes; here all embedding comes
 *   first, then all writes: the same work, one after the other either way.
 * - Task 3: the graph by the plan's method (graph-contenders.ts `seedContender`: UNWIND 500, MERGE
 *   without constraints).
 */
import { spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { connect, queryRows } from "../fixtures/src/pgClient.ts"
import { seedContender } from "./graph-contenders.ts"
import { writeWith } from "./vectors-contenders.ts"

export interface SeedE2eConfig {
  readonly dsn: string
  readonly neo4jUri: string
  readonly python: string
  readonly script: string
  readonly onnx: string
  readonly tokenizer: string
  readonly dimensions: number
  readonly threads: number
  readonly model: string
}

const progress = (line: string): void => void process.stderr.write(`progress ${line}\n`)

const main = async (c: SeedE2eConfig): Promise<void> => {
  const client = await connect(c.dsn)
  const rows = await queryRows(client, `SELECT DISTINCT p.passage_id::text AS id, p.passage_text AS text
      FROM passages p JOIN passage_concepts pc ON p.passage_id = pc.passage_id
     WHERE pc.extractor_version = 'batch-v1' AND p.embedding IS NULL
     ORDER BY 1`).finally(() => client.end())
  progress(`embedding ${rows.length} passages`)
  const dir = mkdtempSync(join(tmpdir(), "polymath-bench-e2e-"))
  try {
    const texts = join(dir, "texts.json")
    const out = join(dir, "vectors.f32")
    writeFileSync(texts, JSON.stringify(rows.map((r) => String(r["text"] ?? ""))))
    const py = spawnSync(c.python, [c.script, "--model", c.onnx, "--tokenizer", c.tokenizer, "--texts", texts, "--threads", String(c.threads), "--batching", "fixed", "--batch-rows", "32", "--keep", "0", "--out", out], { encoding: "utf8", maxBuffer: 1 << 26 })
    if (py.status !== 0) throw new Error(`python embedding failed (${py.status}): ${py.stderr.slice(-2000)}`)
    const bytes = readFileSync(out)
    const flat = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength))
    if (flat.length !== rows.length * c.dimensions) throw new Error(`python wrote ${flat.length} floats for ${rows.length} passages of ${c.dimensions}`)
    const vectors = rows.map((_, i) => flat.subarray(i * c.dimensions, (i + 1) * c.dimensions))
    progress(`writing ${rows.length} vectors, one UPDATE + COMMIT each`)
    const written = await writeWith.seed({
      dsn: c.dsn, target: { table: "passages", key: "passage_id", vector: "embedding", set: [] },
      model: c.model, ids: rows.map((r) => String(r["id"])), vectors, pageSize: 32, deadline: Number.POSITIVE_INFINITY, capS: 0
    })
    if (written.rows !== rows.length) throw new Error(`wrote ${written.rows} of ${rows.length} vectors`)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  progress("graph")
  await seedContender({ dsn: c.dsn, neo4jUri: c.neo4jUri, neo4jUser: "neo4j", neo4jPassword: "", extractorVersion: "batch-v1", handBatch: 0 })
}

main(JSON.parse(process.env["POLYMATH_BENCH_E2E"] ?? "{}") as SeedE2eConfig).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`seed e2e: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(1)
  }
)
