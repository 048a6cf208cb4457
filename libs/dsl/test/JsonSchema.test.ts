import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { identifierSource, pipelineJsonSchema, schemaDocsCoverage } from "../src/index.ts"

const committedFile = fileURLToPath(new URL("../../../pipelines/pipeline.schema.json", import.meta.url))

describe("pipelineJsonSchema", () => {
  it("is generated from the spec schema and closes objects like lint does", () => {
    const s = pipelineJsonSchema() as any
    expect(s.$schema).toContain("2020-12")
    expect(s.additionalProperties).toBe(false)
    const step = s.properties.steps.additionalProperties
    expect(Object.keys(step.properties)).toEqual(["description", "after", "retry", "on_error", "max_rejected", "embed", "graph"])
    expect(step.additionalProperties).toBe(false)
    expect(step.properties.embed.properties.into.required).toEqual(["table", "key", "vector"])
    // Endpoints are documented as written (a string or a map), not as decoded.
    const rel = step.properties.graph.properties.relationships.items
    expect(rel.properties.start.anyOf.map((m: any) => m.type)).toEqual(["string", "object"])
    expect(rel.properties.end.anyOf[1].required).toEqual(["label", "key"])
  })

  it("requires the sections only of a file that does not extend another", () => {
    const s = pipelineJsonSchema() as any
    expect(s.required).toBeUndefined()
    expect(s.if).toEqual({ required: ["extends"] })
    expect(s.else.required).toEqual(["pipeline", "connections", "sources", "steps"])
  })

  it("describes every field, and SchemaDocs names no field the spec lacks", () => {
    expect(schemaDocsCoverage()).toEqual({ undocumented: [], unused: [] })
    const s = pipelineJsonSchema() as any
    const graph = s.properties.steps.additionalProperties.properties.graph
    expect(graph.properties.nodes.items.properties.combine.description).toMatch(/max.*min.*first.*last/)
    expect(s.properties.sources.additionalProperties.properties.incremental.properties.cursor.description).toContain("updated_at")
  })

  it("carries the name rules of Names.ts", () => {
    const s = pipelineJsonSchema() as any
    const graph = s.properties.steps.additionalProperties.properties.graph
    expect(s.properties.params.propertyNames.pattern).toBe(`^${identifierSource}$`)
    expect(graph.properties.nodes.items.properties.label.pattern).toContain(`^${identifierSource}$`)
    expect(s.properties.steps.propertyNames.pattern).toBe(`^${identifierSource}(-[A-Za-z0-9_]*)*$`)
    expect(s.properties.steps.additionalProperties.properties.embed.properties.into.properties.table.pattern).toContain(`\\.)?${identifierSource}$`)
  })

  it("is the committed pipelines/pipeline.schema.json (run `npm run schema` after changing the spec)", () => {
    expect(JSON.parse(readFileSync(committedFile, "utf8"))).toEqual(pipelineJsonSchema())
  })
})
