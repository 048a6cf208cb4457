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
  })
})
