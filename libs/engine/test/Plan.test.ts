import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Redacted } from "effect"
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
      expect(embed.unit.target).toEqual({ table: "passages", key: "passage_id", vector: "embedding", set: [{ column: "embedding_model", value: "bge-small-en-v1.5" }], index: { method: "hnsw", metric: "cosine", options: [] } })
      expect(embed.unit.force).toBe(false)
      expect(embed.rows).toEqual({ onError: "fail", maxRejected: null })
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
        kind: "relationships",
        type: "MENTIONS",
        start: { label: "Passage", key: [{ property: "passage_id", column: "passage_id" }] },
        end: { label: "Concept", key: [{ property: "name", column: "concept_name" }, { property: "type", column: "concept_type" }] },
        key: [{ property: "extractor_version", column: "extractor_version" }],
        properties: [{ property: "confidence", column: "confidence" }]
      })
      // One MENTIONS per (passage, concept, version): the identity covers the source key, so nothing folds.
      expect(mentions.identity).toEqual(["passage_id", "concept_name", "concept_type", "extractor_version"])
      expect(mentions.folded).toBe(false)
      expect(mentions.mirror).toBe(true)
      expect(graph.scope).toEqual({ property: "extractor_versions", value: "batch-v2" })
      expect(plan.checks.map((c) => (c.kind === "query" ? c.query.kind : c.kind))).toEqual(["sql", "sql", "cypher", "cypher", "cypher", "graph_matches_source", "graph_matches_source", "sql"])
      expect(plan.partial).toBe(false)
      // What a run opens comes resolved with the plan; an empty password is none.
      expect(plan.connections.map((c) => ({ ...c, ...(c.kind === "postgres" ? { dsn: Redacted.value(c.dsn) } : {}) }))).toEqual([
        { name: "pg", kind: "postgres", dsn: env.POSTGRES_DSN },
        { name: "graph", kind: "neo4j", uri: env.NEO4J_URI, user: "neo4j", password: null, database: null }
      ])
      expect(Redacted.isRedacted(plan.connections[0]!.kind === "postgres" && plan.connections[0]!.dsn)).toBe(true)
      const only = onlySteps(plan, ["sync_graph"])
      expect(only.steps.map((s) => s.name)).toEqual(["sync_graph"])
      expect(only.partial).toBe(true)
    }))

  it.effect("--force reaches the vector target", () =>
    Effect.gen(function*() {
      const plan = compile(yield* loadPipeline("batch-v1", { env }), { force: true })
      expect(plan.steps[0]!.kind === "embed" && plan.steps[0]!.unit.force).toBe(true)
    }))

  it.effect("rows that map to one entity are read folded by identity, each property by its rule; no lineage means the pipeline's scope", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "plan-"))
      writeFileSync(join(dir, "fold.yaml"), `pipeline: fold
connections:
  pg: { postgres: { dsn: "x" } }
  graph: { neo4j: { uri: "\${env.NEO4J_URI}", user: u, password: "\${env.NEO4J_PASSWORD}", database: db } }
  spare: { postgres: { dsn: "y" } }
sources:
  passages:
    connection: pg
    key: passage_id
    sql: SELECT passage_id, doc_id, title, year FROM passages
steps:
  emb:
    embed: { from: passages, text: title, model: m, into: { table: passages, key: passage_id, vector: v } }
  sync:
    on_error: skip
    max_rejected: 5
    graph:
      connection: graph
      nodes:
        - { label: Paper, from: passages, key: doc_id, properties: [title, year], combine: { title: last, year: max } }
        - { label: Passage, from: passages, key: passage_id }
`)
      const loaded = yield* loadPipeline("fold", { pipelinesDir: dir }).pipe(
        Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env: { NEO4J_URI: "bolt://g:2", NEO4J_PASSWORD: "pw" } }))
      )
      const plan = compile(loaded)
      // Only the connections the plan uses: the spare one is declared but never read.
      expect(plan.connections.map((c) => c.name)).toEqual(["pg", "graph"])
      const graph = plan.connections[1]!
      expect(graph.kind === "neo4j" && { ...graph, password: graph.password && Redacted.value(graph.password) }).toEqual({ name: "graph", kind: "neo4j", uri: "bolt://g:2", user: "u", password: "pw", database: "db" })
      expect(onlySteps(plan, ["emb"]).connections.map((c) => c.name)).toEqual(["pg"])
      const step = plan.steps[1]!
      if (step.kind !== "graph") throw new Error("expected graph")
      expect(step.rows).toEqual({ onError: "skip", maxRejected: 5 })
      expect(step.scope).toEqual({ property: "pipelines", value: "fold" })
      const [paper, passage] = step.units
      expect(paper!.folded).toBe(true)
      expect(paper!.source.keyset.key).toEqual(["doc_id"])
      expect(paper!.source.keyset.fold).toEqual({
        identity: ["doc_id"],
        columns: [{ column: "title", as: "__polymath_p0", rule: "last" }, { column: "year", as: "__polymath_p1", rule: "max" }],
        sourceKey: ["passage_id"]
      })
      // The write reads each property from its own folded column; the contract check still names the source's.
      expect(paper!.write.properties).toEqual([{ property: "title", column: "__polymath_p0" }, { property: "year", column: "__polymath_p1" }])
      expect(paper!.columns).toEqual(["passage_id", "doc_id", "title", "year"])
      expect(paper!.rawSource.keyset.fold).toBeNull()
      expect(paper!.mirror).toBe(false)
      expect(passage!.folded).toBe(false)
      expect(passage!.source.keyset.fold).toBeNull()
    }))
})
