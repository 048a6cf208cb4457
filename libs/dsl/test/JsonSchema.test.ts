import { describe, expect, it } from "@effect/vitest"
import { pipelineJsonSchema } from "../src/index.ts"

describe("pipelineJsonSchema", () => {
  it("is generated from the spec schema and closes objects like lint does", () => {
    const s = pipelineJsonSchema() as any
    expect(s.$schema).toContain("2020-12")
    expect(s.required).toEqual(expect.arrayContaining(["pipeline", "connections", "sources", "steps"]))
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
})
