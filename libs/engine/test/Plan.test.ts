import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { loadPipeline } from "@polymath/dsl"
import { compile, onlySteps } from "../src/index.ts"

const env = { POSTGRES_DSN: "postgres://u:p@h/db", NEO4J_URI: "bolt://h:1" }

describe("compile", () => {
  it.effect("turns batch-v1.yaml into ordered steps, bound params and graph units", () =>
    Effect.gen(function*() {
      const loaded = yield* loadPipeline("batch-v2", { env, set: ["model=bge-small-en-v1.5"] })
      const plan = compile(loaded)
      expect(plan.pipeline).toBe("batch-v2")
      expect(plan.ledgerConnection).toBe("pg")
      expect(plan.models).toEqual(["bge-small-en-v1.5"])
      expect(plan.steps.map((s) => s.name)).toEqual(["embed_passages", "sync_graph"])
      const embed = plan.steps[0]!
      if (embed.kind !== "embed") throw new Error("expected embed")
      // :extractor_version became $1 bound to the param: data never enters query text.
      expect(embed.unit.source.keyset.statement.text).toContain("pc.extractor_version = $1")
      expect(embed.unit.source.keyset.statement.params).toEqual(["batch-v2"])
      expect(embed.unit.source.keyset.pageSize).toBe(64)
      expect(embed.unit.target).toEqual({ table: "passages", key: "passage_id", vector: "embedding", set: [{ column: "embedding_model", value: "bge-small-en-v1.5" }], force: false })
      const graph = plan.steps[1]!
      if (graph.kind !== "graph") throw new Error("expected graph")
      expect(graph.constraints).toEqual([{ label: "Paper", key: ["doc_id"] }, { label: "Passage", key: ["passage_id"] }, { label: "Concept", key: ["name", "type"] }])
      expect(graph.units.map((u) => u.unit)).toEqual([
        "sync_graph/nodes[0]:Paper",
        "sync_graph/nodes[1]:Passage",
        "sync_graph/nodes[2]:Concept",
        "sync_graph/relationships[0]:FROM_PAPER",
        "sync_graph/relationships[1]:MENTIONS"
      ])
      const mentions = graph.units[4]!
      expect(mentions.kind === "relationships" && mentions.write).toEqual({
        type: "MENTIONS",
        start: { label: "Passage", key: [{ property: "passage_id", column: "passage_id" }] },
        end: { label: "Concept", key: [{ property: "name", column: "concept_name" }, { property: "type", column: "concept_type" }] },
        properties: [{ property: "confidence", column: "confidence", combine: "max" }]
      })
      expect(graph.lineage).toEqual({ extractor_version: "batch-v2" })
      expect(plan.checks.map((c) => c.query.kind)).toEqual(["sql", "sql", "cypher", "cypher", "cypher", "sql"])
      expect(onlySteps(plan, ["sync_graph"]).steps.map((s) => s.name)).toEqual(["sync_graph"])
    }))

  it.effect("--force reaches the vector target", () =>
    Effect.gen(function*() {
      const plan = compile(yield* loadPipeline("batch-v1", { env }), { force: true })
      expect(plan.steps[0]!.kind === "embed" && plan.steps[0]!.unit.target.force).toBe(true)
    }))
})
