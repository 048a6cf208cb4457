/** batch-v1's source queries, read from the pipeline file so the benchmarks read exactly what the runner reads. */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { parse } from "yaml"
import { repoRoot } from "./common.ts"

export interface SourceQuery {
  /** The query with `:extractor_version` as `$1`. */
  readonly sql: string
  readonly key: ReadonlyArray<string>
}

/** Every source of pipelines/batch-v1.yaml, by name. */
export const batchV1SourceQueries = (): Readonly<Record<string, SourceQuery>> => {
  const doc = parse(readFileSync(join(repoRoot, "pipelines/batch-v1.yaml"), "utf8")) as {
    sources: Record<string, { sql: string; key: string | ReadonlyArray<string> }>
  }
  return Object.fromEntries(Object.entries(doc.sources).map(([name, s]) => [name, {
    sql: s.sql.replace(/:extractor_version\b/g, "$1").trim(),
    key: typeof s.key === "string" ? [s.key] : s.key
  }]))
}

/** The graph step's four sources as SQL text. */
export const batchV1Sources = (): { papers: string; passages: string; concepts: string; mentions: string } => {
  const q = batchV1SourceQueries()
  return { papers: q["papers"]!.sql, passages: q["passages"]!.sql, concepts: q["concepts"]!.sql, mentions: q["mentions"]!.sql }
}
