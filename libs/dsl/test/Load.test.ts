import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Redacted } from "effect"
import { formatDiagnostic, loadPipeline, sortDiagnostics, SpecError } from "../src/index.ts"
import type { LoadOptions } from "../src/index.ts"

const dir = mkdtempSync(join(tmpdir(), "dsl-test-"))
const env = { POSTGRES_DSN: "postgres://u:s3cret@localhost/db", NEO4J_URI: "bolt://localhost:7687", NEO4J_PASSWORD: "pw-s3cret" }
const models = new Map([["small", { dimensions: 384 }], ["large", { dimensions: 1024 }]])

/** Writes `<name>.yaml`, the pipeline named after its file as it should be. */
const write = (name: string, text: string) => {
  writeFileSync(join(dir, `${name}.yaml`), text.replace(/^pipeline: good$/m, `pipeline: ${name}`))
  return join(dir, `${name}.yaml`)
}

/** Loads from the test directory with the environment supplied as the ConfigProvider, as a deployment would. */
const load = (name: string, options: LoadOptions = {}, environment: Record<string, string> = env) =>
  loadPipeline(name, { pipelinesDir: dir, models, ...options }).pipe(
    Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env: environment }))
  )

/** Loads and returns the diagnostics as `line:col: message` (file name stripped) */
const problems = (name: string, text: string, options: LoadOptions = {}, environment: Record<string, string> = env) =>
  Effect.gen(function*() {
    write(name, text)
    const r = yield* Effect.result(load(name, options, environment))
    if (r._tag === "Success") return []
    expect(r.failure).toBeInstanceOf(SpecError)
    return sortDiagnostics(r.failure.diagnostics).map((d) => formatDiagnostic(d).replace(/^.*?\.yaml:/, "").split("\n")[0]!)
  })

const good = `pipeline: good
params:
  version: batch-v1
  model: small
  size: 32
connections:
  pg: { postgres: { dsn: "\${env.POSTGRES_DSN}" } }
  graph:
    neo4j: { uri: "\${env.NEO4J_URI}", user: neo4j, password: "\${env.NEO4J_PASSWORD}" }
sources:
  texts:
    connection: pg
    key: id
    sql: SELECT id, body FROM t WHERE v = :version AND x::text <> ':not_a_param'
  things:
    connection: pg
    key: [name, kind]
    sql: SELECT DISTINCT name, kind FROM c WHERE v = :version
  links:
    connection: pg
    key: [id, name, kind]
    sql: SELECT id, name, kind, w FROM l
steps:
  embed_texts:
    embed:
      from: texts
      text: body
      model: \${params.model}
      batch_size: \${params.size}
      into: { table: public.t, key: id, vector: embedding, set: { model: "\${params.model}" }, dimensions: 384 }
  sync:
    after: [embed_texts]
    graph:
      connection: graph
      lineage: { version: "\${params.version}" }
      nodes:
        - { label: Text, from: texts, key: id, properties: { preview: body } }
        - { label: Thing, from: things, key: [name, kind], labels_from: { column: kind, map: { a: A } } }
      relationships:
        - type: LINKS
          from: links
          start: Text(id)
          end: "Thing(name: name, kind: kind)"
          properties: [w]
verify:
  - name: embedded
    sql: SELECT count(*) FROM t WHERE v = :version
    expect: { equals: { source_count: texts } }
  - name: graph
    cypher: MATCH (n:Text) WHERE n.version = $version RETURN count(n)
    expect: { at_least: 1 }
`

describe("loadPipeline", () => {
  it.effect("loads a good pipeline with typed params, env and secrets redacted", () =>
    Effect.gen(function*() {
      write("good", good)
      const p = yield* load("good")
      expect(p.params).toEqual({ version: "batch-v1", model: "small", size: 32 })
      const embed = p.spec.steps["embed_texts"]!.embed!
      expect(embed.model).toBe("small")
      expect(embed.batch_size).toBe(32)
      const dsn = p.spec.connections["pg"]!.postgres!.dsn
      expect(Redacted.isRedacted(dsn)).toBe(true)
      expect(Redacted.value(dsn)).toBe(env.POSTGRES_DSN)
      expect(String(dsn)).not.toContain("s3cret")
      expect(JSON.stringify(p.spec)).not.toContain("s3cret")
      expect(p.warnings).toEqual([])
      // Endpoints arrive decoded, whichever way they were written.
      const links = p.spec.steps["sync"]!.graph!.relationships![0]!
      expect(links.start).toEqual({ label: "Text", key: [{ property: "id", column: "id" }] })
      expect(links.end).toEqual({ label: "Thing", key: [{ property: "name", column: "name" }, { property: "kind", column: "kind" }] })
    }))

  it.effect("the environment comes from the ConfigProvider; the env option fixes it instead", () =>
    Effect.gen(function*() {
      write("envs", good.replace("\"${env.NEO4J_URI}\"", "\"${env.NEO4J_URI:-bolt://fallback:7687}\""))
      const provided = yield* load("envs", {}, { POSTGRES_DSN: "postgres://a@p/db", NEO4J_URI: "", NEO4J_PASSWORD: "x" })
      expect(Redacted.value(provided.spec.connections["pg"]!.postgres!.dsn)).toBe("postgres://a@p/db")
      // An empty variable is unset, so the default applies.
      expect(provided.spec.connections["graph"]!.neo4j!.uri).toBe("bolt://fallback:7687")
      const fixed = yield* load("envs", { env: { ...env, POSTGRES_DSN: "postgres://b@q/db" } }, {})
      expect(Redacted.value(fixed.spec.connections["pg"]!.postgres!.dsn)).toBe("postgres://b@q/db")
      expect(fixed.spec.connections["graph"]!.neo4j!.uri).toBe(env.NEO4J_URI)
    }))

  it.effect("--set overrides params with the default's type and changes the spec hash", () =>
    Effect.gen(function*() {
      write("good", good)
      const a = yield* load("good")
      const b = yield* load("good", { set: ["version=batch-v2", "size=8"] })
      expect(b.params).toEqual({ version: "batch-v2", model: "small", size: 8 })
      expect(b.spec.steps["embed_texts"]!.embed!.batch_size).toBe(8)
      expect(b.specHash).not.toBe(a.specHash)
    }))

  it.effect("extends: a 3-line child overrides params and keeps positions of inherited parts", () =>
    Effect.gen(function*() {
      write("good", good)
      write("child", "pipeline: child\nextends: good\nparams: { version: batch-v2 }\n")
      const p = yield* load("child")
      expect(p.spec.pipeline).toBe("child")
      expect(p.params["version"]).toBe("batch-v2")
      expect(Object.keys(p.spec.steps)).toEqual(["embed_texts", "sync"])
      expect(p.spec.steps["sync"]!.graph!.lineage).toEqual({ version: "batch-v2" })
      // an error in the inherited part points into the parent file
      const bad = yield* problems("child2", "pipeline: child2\nextends: good\nparams: { model: huge }\n")
      expect(bad).toEqual(["28:14: unknown model 'huge'"])
    }))

  it.effect("unknown keys get did-you-mean hints at the key's position", () =>
    Effect.gen(function*() {
      const text = good.replace("      batch_size: ${params.size}\n", "      batch_sise: 3\n").replace("  texts:\n    connection: pg", "  texts:\n    conection: pg")
      const ps = yield* problems("typo", text)
      expect(ps).toEqual([
        "11:3: sources.texts is missing required key 'connection'",
        "12:5: unknown key 'conection' in sources.texts",
        "29:7: unknown key 'batch_sise' in steps.embed_texts.embed"
      ])
      write("typo", text)
      const r = yield* Effect.result(load("typo"))
      expect(r._tag === "Failure" && r.failure.message).toContain("hint: did you mean 'batch_size'?")
    }))

  it.effect("a wrong value is echoed as written, but never one that came from the environment", () =>
    Effect.gen(function*() {
      const written = yield* problems("echo-written", good.replace("  embed_texts:\n", "  embed_texts:\n    on_error: ignore\n"))
      expect(written.join("\n")).toContain("on_error must be one of fail, skip, got 'ignore'")
      const secret = yield* problems("echo-env", good.replace("  embed_texts:\n", "  embed_texts:\n    on_error: ${env.SECRET_WORD}\n"), {}, { ...env, SECRET_WORD: "hunter2secret" })
      expect(secret.join("\n")).toContain("on_error must be one of fail, skip, got string")
      expect(secret.join("\n")).not.toContain("hunter2secret")
    }))

  it.effect("wrong types and invalid identifiers", () =>
    Effect.gen(function*() {
      const text = good
        .replace("batch_size: ${params.size}", "batch_size: many")
        .replace("{ label: Text,", "{ label: \"Text`) DETACH DELETE n //\",")
        .replace("type: LINKS", "type: [LINKS]")
      expect(yield* problems("types", text)).toEqual([
        "29:19: steps.embed_texts.embed.batch_size must be a number, got 'many'",
        "37:20: steps.sync.graph.nodes[0].label must be a plain identifier (letters, digits, _; not starting with a digit)",
        "40:17: steps.sync.graph.relationships[0].type must be a string, got a list",
        // lint runs on the same pass; the invalid label leaves Text without a valid mapping
        "42:18: relationship LINKS starts at Text, which no node mapping in this step writes"
      ])
    }))

  it.effect("undefined sources, connections, params, models and steps", () =>
    Effect.gen(function*() {
      const text = good
        .replace("connection: pg\n    key: id", "connection: pgx\n    key: id")
        .replace("from: texts\n      text", "from: textz\n      text")
        .replace("v = :version AND", "v = :verison AND")
        .replace("model: ${params.model}", "model: tiny")
        .replace("after: [embed_texts]", "after: [embed]")
        .replace("connection: graph", "connection: pg")
      expect(yield* problems("refs", text)).toEqual([
        "12:17: unknown connection 'pgx'",
        "14:43: query uses :verison, which is not a param",
        "26:13: unknown source 'textz'",
        "28:14: unknown model 'tiny'",
        "32:13: unknown step 'embed'",
        "34:19: connection 'pg' is postgres, but a neo4j connection is needed here"
      ])
    }))

  it.effect("schema and reference problems are reported in one pass", () =>
    Effect.gen(function*() {
      const text = good.replace("connection: pg\n    key: id", "connection: pgx\n    key: id\n    page_sise: 3").replace("from: texts\n      text", "from: textz\n      text")
      expect(yield* problems("both", text)).toEqual([
        "12:17: unknown connection 'pgx'",
        "14:5: unknown key 'page_sise' in sources.texts",
        "27:13: unknown source 'textz'"
      ])
    }))

  it.effect("cycles between steps", () =>
    Effect.gen(function*() {
      const text = good.replace("  embed_texts:\n    embed:", "  embed_texts:\n    after: [sync]\n    embed:")
      expect(yield* problems("cycle", text)).toEqual(["23:1: steps depend on each other in a cycle: embed_texts -> sync -> embed_texts"])
    }))

  it.effect("model dimension mismatch is a lint error before any work", () =>
    Effect.gen(function*() {
      const text = good.replace("model: ${params.model}", "model: large")
      expect(yield* problems("dims", text)).toEqual(["30:107: model 'large' makes 1024-d vectors but public.t.embedding holds 384-d vectors"])
    }))

  it.effect("relationship endpoints must match node keys", () =>
    Effect.gen(function*() {
      const text = good.replace("end: \"Thing(name: name, kind: kind)\"", "end: \"Thing(name)\"").replace("start: Text(id)", "start: Txt(id)")
      expect(yield* problems("ends", text)).toEqual([
        "42:18: relationship LINKS starts at Txt, which no node mapping in this step writes",
        "43:16: Thing is keyed by (name, kind), but this endpoint matches on (name)"
      ])
    }))

  it.effect("a malformed endpoint is a decoding error where it is written; lint still reports the rest", () =>
    Effect.gen(function*() {
      const text = good.replace("start: Text(id)", "start: Text id").replace("end: \"Thing(name: name, kind: kind)\"", "end: \"Thing()\"").replace("from: links", "from: linkz")
      expect(yield* problems("badends", text)).toEqual([
        "41:17: unknown source 'linkz'",
        "42:18: endpoint 'Text id' must look like Label(column) or Label(property: column, ...)",
        "43:16: endpoint 'Thing()' names no key"
      ])
      const mapForm = good.replace("start: Text(id)", "start: { label: Text, key: { id: id } }")
      expect(yield* problems("mapends", mapForm)).toEqual([])
    }))

  it.effect("sync rules: one lineage scope, combine where rows fold, no mirroring or folding over an incremental source", () =>
    Effect.gen(function*() {
      const twoScopes = good.replace("lineage: { version: \"${params.version}\" }", "lineage: { version: \"${params.version}\", team: x }")
      expect(yield* problems("scopes", twoScopes)).toEqual([
        "35:16: lineage names the scope of this step's writes and takes one property (a set of scope values on every entity), got 2"
      ])
      expect(yield* problems("noscope", good.replace("lineage: { version: \"${params.version}\" }", "lineage: { version: \"\" }"))).toEqual([
        "35:27: lineage version has no value, so this step's writes would have no scope"
      ])
      // LINKS keyed by its endpoints alone, from a source keyed by (id, name, kind, w): rows fold, w needs a rule.
      const folding = good.replace("key: [id, name, kind]\n    sql: SELECT id, name, kind, w FROM l", "key: [id, name, kind, w]\n    sql: SELECT id, name, kind, w, x FROM l")
        .replace("properties: [w]\n", "properties: [x]\n")
      const fold = yield* problems("fold", folding)
      expect(fold).toHaveLength(1)
      expect(fold[0]).toMatch(/^40:11: several rows of source 'links' can map to one LINKS relationship: its identity \(id, name, kind\) leaves out source key column w, and 'x' has no combine rule$/)
      expect(yield* problems("foldok", folding.replace("properties: [x]\n", "properties: [x]\n          combine: last\n"))).toEqual([])
      expect(yield* problems("foldkey", folding.replace("properties: [x]\n", "key: [w]\n          properties: [x]\n"))).toEqual([])
      // A combine rule where nothing folds is a warning, not an error.
      write("uselesscombine", good.replace("properties: [w]\n", "properties: [w]\n          combine: { w: max }\n"))
      const loaded = yield* load("uselesscombine")
      expect(loaded.warnings.map((w) => w.message)).toEqual(["combine has no effect: each row of source 'links' is its own LINKS relationship (its identity includes the source key)"])
      const incremental = good.replace("sql: SELECT id, name, kind, w FROM l", "sql: SELECT id, name, kind, w, t FROM l\n    incremental: { cursor: t }")
      expect(yield* problems("incmirror", incremental.replace("lineage:", "on_missing: delete\n      lineage:"))).toEqual([
        "43:17: on_missing: delete needs the complete source, but 'links' is incremental (it yields only rows changed since the last run)"
      ])
      // An identity that includes the whole source key never folds, so an incremental source is fine.
      expect(yield* problems("incfold", incremental.replace("key: [id, name, kind]\n", "key: [id, name, kind, w]\n").replace("properties: [w]\n", "key: [w]\n"))).toEqual([])
      expect(yield* problems("keyprop", good.replace("properties: [w]\n", "properties: [w]\n          key: [w]\n"))).toEqual([
        "45:16: property 'w' of LINKS is part of its key; list it only under key"
      ])
      const incFold = yield* problems("incfold2", incremental.replace("key: [id, name, kind]\n", "key: [id, name, kind, t]\n").replace("properties: [w]\n", "properties: [w]\n          combine: max\n"))
      expect(incFold[0]).toMatch(/several rows of source 'links' can map to one LINKS relationship, but the source is incremental/)
    }))

  it.effect("the mappings of one label, or of one relationship type between two labels, agree on on_missing", () =>
    Effect.gen(function*() {
      const twoTexts = good.replace("        - { label: Thing,", "        - { label: Text, from: texts, key: id, properties: { preview: body }, on_missing: delete }\n        - { label: Thing,")
      expect(yield* problems("mixednodes", twoTexts)).toEqual([
        "38:91: label Text is mapped with on_missing: keep at nodes[0] and on_missing: delete here; a sweep cannot tell which mapping wrote an entity, so it would delete what the keep mapping wrote"
      ])
      // The step's default counts for a mapping that sets none; agreeing mappings are fine.
      const stepDelete = twoTexts.replace("      lineage:", "      on_missing: delete\n      lineage:")
      expect(yield* problems("stepdelete", stepDelete)).toEqual([])
      expect(yield* problems("stepkeep", stepDelete.replace("on_missing: delete }", "on_missing: keep }"))).toEqual([
        "39:91: label Text is mapped with on_missing: delete at nodes[0] and on_missing: keep here; a sweep cannot tell which mapping wrote an entity, so it would delete what the keep mapping wrote"
      ])
      const twoLinks = good.replace("verify:", "        - { type: LINKS, from: links, start: Text(id), end: \"Thing(name: name, kind: kind)\", properties: [w], on_missing: delete }\nverify:")
      const linkProblems = yield* problems("mixedrels", twoLinks)
      expect(linkProblems).toHaveLength(1)
      expect(linkProblems[0]).toMatch(/^45:\d+: LINKS from Text to Thing is mapped with on_missing: keep at relationships\[0\] and on_missing: delete here/)
      // ... and on their key.
      const keyed = twoLinks.replace("properties: [w], on_missing: delete }", "key: [w] }")
      const keyProblems = yield* problems("mixedkeys", keyed)
      expect(keyProblems).toHaveLength(1)
      expect(keyProblems[0]).toMatch(/^45:\d+: LINKS from Text to Thing is keyed by \(\) at relationships\[0\] and by \(w\) here; one relationship type between two labels needs one key$/)
      // Another pair of labels is another group.
      expect(yield* problems("otherpair", twoLinks.replace("start: Text(id), end: \"Thing(name: name, kind: kind)\", properties: [w], on_missing: delete", "start: Text(id), end: Text(id), on_missing: delete"))).toEqual([])
    }))

  it.effect("columns a query never names are reported at the mapping that needs them, before any database", () =>
    Effect.gen(function*() {
      expect(yield* problems("cols", good.replace("properties: [w]", "properties: [weight]").replace("key: id\n    sql: SELECT id, body", "key: id\n    sql: SELECT ident, body"))).toEqual([
        "13:10: source 'texts' does not return column 'id' (its key): its query never names it",
        "37:44: source 'texts' does not return column 'id' (key id of Text): its query never names it",
        "44:23: source 'links' does not return column 'weight' (property weight of LINKS): its query never names it"
      ])
      // A wildcard may return anything; count(*) is not a wildcard.
      expect(yield* problems("star", good.replace("sql: SELECT id, name, kind, w FROM l", "sql: SELECT * FROM l"))).toEqual([])
      const counted = yield* problems("counted", good.replace("sql: SELECT id, name, kind, w FROM l", "sql: SELECT id, name, kind, count(*) AS n FROM l GROUP BY 1, 2, 3"))
      expect(counted).toEqual(["44:23: source 'links' does not return column 'w' (property w of LINKS): its query never names it"])
    }))

  it.effect("interpolation into query text is refused; missing env is an error at run time", () =>
    Effect.gen(function*() {
      const text = good.replace("WHERE v = :version AND", "WHERE v = '${params.version}' AND")
      expect(yield* problems("splice", text)).toEqual([
        "14:10: sql must not use ${...} interpolation: it would splice values into query text"
      ])
      expect(yield* problems("noenv", good, {}, {})).toEqual([
        "7:26: environment variable POSTGRES_DSN is not set",
        "9:19: environment variable NEO4J_URI is not set",
        "9:62: environment variable NEO4J_PASSWORD is not set"
      ])
      write("noenv", good)
      const ok = yield* load("noenv", { allowMissingEnv: true }, {})
      expect(ok.warnings.length).toBe(3)
    }))

  it.effect("YAML syntax errors and duplicate keys carry positions", () =>
    Effect.gen(function*() {
      expect(yield* problems("syntax", "pipeline: x\nsources: {a: 1\n")).toHaveLength(1)
      const dup = yield* problems("dup", good.replace("  things:\n", "  texts:\n"))
      expect(dup[0]).toBe("15:3: key 'texts' appears twice in sources (first at line 11)")
    }))

  it.effect("--set of an unknown param and a missing pipeline", () =>
    Effect.gen(function*() {
      write("good", good)
      const r = yield* Effect.result(load("good", { set: ["verion=2"] }))
      expect(r._tag === "Failure" && r.failure.message).toBe("--set verion: unknown param\n    hint: did you mean 'version'?")
      const m = yield* Effect.result(load("goodd"))
      expect(m._tag === "Failure" && m.failure.message).toContain("pipeline 'goodd' not found")
      expect(m._tag === "Failure" && m.failure.message).toContain("did you mean 'good'?")
    }))
})
