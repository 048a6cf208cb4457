import { Schema } from "effect"
import { PipelineSpec } from "./Spec.ts"

/** Closes every object that lists its properties, so editors flag unknown keys as lint does. */
const closeObjects = (node: unknown): unknown => {
  if (Array.isArray(node)) return node.map(closeObjects)
  if (node === null || typeof node !== "object") return node
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(node)) out[k] = closeObjects(v)
  if (out["type"] === "object" && out["properties"] !== undefined && out["additionalProperties"] === true) out["additionalProperties"] = false
  return out
}

/** The JSON Schema of pipeline files, generated from the Effect Schema (editors validate while typing). */
export const pipelineJsonSchema = (): Record<string, unknown> => {
  const doc = Schema.toJsonSchemaDocument(PipelineSpec)
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: "https://polymath-etl.dev/pipeline.schema.json",
    title: "polymath-etl pipeline",
    ...(closeObjects(doc.schema) as Record<string, unknown>),
    ...(Object.keys(doc.definitions ?? {}).length > 0 ? { $defs: closeObjects(doc.definitions) } : {})
  }
}
