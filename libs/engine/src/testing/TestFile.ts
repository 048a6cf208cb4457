import { existsSync, readFileSync } from "node:fs"
import { Exit, Schema } from "effect"
import type { SchemaIssue } from "effect"
import { displayPath, error, label, parseLocated, positionOf, suggest } from "@polymath/dsl"
import type { Diagnostic, Located, Path, PipelineSpec } from "@polymath/dsl"
import { unitsOf } from "../Plan.ts"
import type { Plan } from "../Plan.ts"

/*
 * The test-case file of a pipeline, `<name>.test.yaml` beside `<name>.yaml`: source rows
 * per case and what the mappings must make of them. Decoded like a pipeline file, with
 * every problem at its file:line:col.
 *
 * A case's `sources` give rows as a source's query would return them: every column the
 * steps read must be there (NULL as `null`), and a key must not repeat. A source not
 * given returns no rows. Only the kinds under `expect` are compared; each list is an
 * exact set, in any order:
 * - `nodes: { Label: [props] }`: every node carrying that label (its mapping's label or
 *   one from `labels_from`), with all its properties, key included. A NULL property is
 *   no property; the lineage property and the run stamp are left out (a step sets the
 *   same values on everything it writes).
 * - `relationships: { TYPE: [{ start, end, properties }] }`: endpoints by their key
 *   properties, `properties` including the identity `key:` ones (none when absent).
 * - `embed: { step: [{ id, text }] }`: the texts a step would embed; no vectors.
 * - `rejected: [{ step, key, reason? }]`: every row any step refuses, by its source key
 *   (a folded read's: the identity), with the reason a run records under `on_error: skip`.
 */

const Scalar = Schema.Union([Schema.String, Schema.Number, Schema.Boolean, Schema.Null])
/** A row or a property map; values are whatever YAML holds (scalars, lists, maps). */
const Properties = Schema.Record(Schema.String, Schema.Unknown)

const ExpectedRelationship = Schema.Struct({
  /** The start node's key properties, as the mapping's endpoint names them. */
  start: Properties,
  end: Properties,
  /** Every property of the relationship, its identity `key` included; none when absent. */
  properties: Schema.optionalKey(Properties)
})

const ExpectedEmbedding = Schema.Struct({
  id: Schema.Union([Schema.String, Schema.Number, Schema.Boolean]),
  text: Schema.String
})

const ExpectedRejection = Schema.Struct({
  step: Schema.String,
  /** The row's source key (a folded read's: the identity), column -> value. */
  key: Schema.Record(Schema.String, Scalar),
  /** The reason as a run records it; any reason when absent. */
  reason: Schema.optionalKey(Schema.String)
})

const Expectations = Schema.Struct({
  nodes: Schema.optionalKey(Schema.Record(Schema.String, Schema.Array(Properties))),
  relationships: Schema.optionalKey(Schema.Record(Schema.String, Schema.Array(ExpectedRelationship))),
  embed: Schema.optionalKey(Schema.Record(Schema.String, Schema.Array(ExpectedEmbedding))),
  rejected: Schema.optionalKey(Schema.Array(ExpectedRejection))
})

const TestCaseSpec = Schema.Struct({
  name: Schema.String,
  sources: Schema.optionalKey(Schema.Record(Schema.String, Schema.Array(Properties))),
  expect: Expectations
})

export const TestFileSpec = Schema.Struct({
  /** The pipeline file, relative to the test file. */
  pipeline: Schema.String,
  /** Param overrides, as `--set name=value`. */
  params: Schema.optionalKey(Schema.Record(Schema.String, Scalar)),
  tests: Schema.NonEmptyArray(TestCaseSpec)
})
export type TestFileSpec = typeof TestFileSpec.Type
export type TestCaseSpec = typeof TestCaseSpec.Type

const describeInput = (u: unknown): string => (u === null ? "null" : Array.isArray(u) ? "a list" : typeof u === "object" ? "a map" : typeof u)

const valueAt = (doc: Located, path: Path): unknown => {
  let v: unknown = doc.value
  for (const p of path) v = v !== null && typeof v === "object" ? (v as Record<string | number, unknown>)[p] : undefined
  return v
}

const expected = (issue: SchemaIssue.InvalidType | SchemaIssue.AnyOf): string => {
  const of = (tag: string): string =>
    ({ String: "a string", Number: "a number", Boolean: "true or false", Arrays: "a list", Objects: "a map", Null: "null" })[tag] ?? "a different value"
  return issue.ast._tag === "Union" ? issue.ast.types.map((t) => of(t._tag)).join(" or ") : of(issue.ast._tag)
}

// The schema issue tree as positioned diagnostics (the pipeline decoder's approach, for this schema).
const collect = (doc: Located, issue: SchemaIssue.Issue, path: Path, out: Array<Diagnostic>): void => {
  switch (issue._tag) {
    case "Pointer":
      return collect(doc, issue.issue, [...path, ...issue.path.map((p) => (typeof p === "number" ? p : String(p)))], out)
    case "Composite":
      for (const i of issue.issues) collect(doc, i, path, out)
      return
    case "Encoding":
      return collect(doc, issue.issue, path, out)
    case "UnexpectedKey": {
      const key = String(path[path.length - 1])
      const known = issue.ast._tag === "Objects" ? issue.ast.propertySignatures.map((p) => String(p.name)) : []
      out.push(error(positionOf(doc, path, "key"), `unknown key '${key}'${path.length > 1 ? ` in ${label(path.slice(0, -1))}` : ""}`, suggest(key, known, "keys")))
      return
    }
    case "MissingKey":
      out.push(error(positionOf(doc, path.slice(0, -1), "key"), `${path.length > 1 ? label(path.slice(0, -1)) : "the test file"} is missing required key '${String(path[path.length - 1])}'`))
      return
    case "InvalidType":
    case "AnyOf":
      out.push(error(positionOf(doc, path), `${label(path)} must be ${expected(issue)}, got ${describeInput(valueAt(doc, path))}`))
      return
    default:
      out.push(error(positionOf(doc, path), `${label(path)} is not valid here`))
  }
}

/** A test file read and decoded: its spec, and its located document for positions. */
export interface TestFile {
  /** As the user sees it (relative to the working directory). */
  readonly file: string
  readonly spec: TestFileSpec
  readonly doc: Located
}

/** Reads and decodes a test file, or returns every problem found. */
export const readTestFile = (file: string): { readonly testFile: TestFile | null; readonly diagnostics: ReadonlyArray<Diagnostic> } => {
  const shown = displayPath(file)
  if (!existsSync(file)) return { testFile: null, diagnostics: [error(null, `no test file ${shown}`, "a pipeline's test cases go beside it, in <name>.test.yaml")] }
  const { doc, diagnostics } = parseLocated(shown, readFileSync(file, "utf8"))
  if (diagnostics.length > 0) return { testFile: null, diagnostics }
  if (doc.value === null || typeof doc.value !== "object" || Array.isArray(doc.value)) {
    return { testFile: null, diagnostics: [error(positionOf(doc, []), "a test file must be a YAML map with `pipeline` and `tests`")] }
  }
  const exit = Schema.decodeUnknownExit(TestFileSpec)(doc.value, { errors: "all", onExcessProperty: "error" })
  if (Exit.isSuccess(exit)) {
    const names = new Map<string, number>()
    const out: Array<Diagnostic> = []
    exit.value.tests.forEach((t, i) => {
      const first = names.get(t.name)
      if (first !== undefined) out.push(error(positionOf(doc, ["tests", i, "name"]), `two tests are named '${t.name}' (the other is tests[${first}])`))
      else names.set(t.name, i)
    })
    return { testFile: out.length > 0 ? null : { file: shown, spec: exit.value, doc }, diagnostics: out }
  }
  const out: Array<Diagnostic> = []
  for (const reason of exit.cause.reasons) {
    if (reason._tag === "Fail" && Schema.isSchemaError(reason.error)) collect(doc, reason.error.issue, [], out)
    else out.push(error(null, "the test file could not be decoded"))
  }
  return { testFile: null, diagnostics: out }
}

/**
 * Names a test file uses that the pipeline does not have: sources (and sources no step
 * reads), labels, relationship types and steps. Each would make a case pass or fail for
 * the wrong reason.
 */
export const checkReferences = (t: TestFile, spec: PipelineSpec, plan: Plan): ReadonlyArray<Diagnostic> => {
  const out: Array<Diagnostic> = []
  const units = unitsOf(plan)
  const read = new Set(units.map((u) => u.source.keyset.name))
  const labels = new Set<string>()
  let anyLabel = false
  const types = new Set<string>()
  for (const u of units) {
    if (u.kind === "nodes") {
      labels.add(u.write.label)
      // A value the map does not list gives its own label, capitalised: any label may occur.
      if (u.write.labelFrom !== null) anyLabel = true
    }
    if (u.kind === "relationships") types.add(u.write.type)
  }
  const steps = plan.steps.map((s) => s.name)
  const embedSteps = plan.steps.filter((s) => s.kind === "embed").map((s) => s.name)
  const known = (path: Path, name: string, names: ReadonlyArray<string>, what: string, message: string) => {
    if (!names.includes(name)) out.push(error(positionOf(doc, path, "key"), message, suggest(name, names, what)))
  }
  const doc = t.doc
  t.spec.tests.forEach((c, i) => {
    for (const source of Object.keys(c.sources ?? {})) {
      const path = ["tests", i, "sources", source]
      if (!(source in spec.sources)) known(path, source, Object.keys(spec.sources), "sources", `the pipeline has no source '${source}'`)
      else if (!read.has(source)) out.push(error(positionOf(doc, path, "key"), `no step reads source '${source}': its rows would be ignored`, null))
    }
    for (const l of Object.keys(c.expect.nodes ?? {})) {
      if (!anyLabel) known(["tests", i, "expect", "nodes", l], l, [...labels], "labels", `the pipeline writes no node labelled '${l}'`)
    }
    for (const ty of Object.keys(c.expect.relationships ?? {})) known(["tests", i, "expect", "relationships", ty], ty, [...types], "relationship types", `the pipeline writes no relationship of type '${ty}'`)
    for (const s of Object.keys(c.expect.embed ?? {})) known(["tests", i, "expect", "embed", s], s, embedSteps, "embed steps", `the pipeline has no embed step '${s}'`)
    ;(c.expect.rejected ?? []).forEach((r, j) => {
      const path = ["tests", i, "expect", "rejected", j, "step"]
      if (!steps.includes(r.step)) out.push(error(positionOf(doc, path), `the pipeline has no step '${r.step}'`, suggest(r.step, steps, "steps")))
    })
  })
  return out
}
