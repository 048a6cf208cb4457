import { Schema } from "effect"
import { identifierSource } from "./Identifier.ts"
import { Identifier, Name, TableName } from "./Names.ts"
import { fieldDocs, pipelineDescription } from "./SchemaDocs.ts"
import type { FieldDoc, NameRule } from "./SchemaDocs.ts"
import { PipelineSpec } from "./Spec.ts"

/*
 * The JSON Schema of pipeline files (editors validate while typing; CI checks the shipped
 * pipelines with it). Generated from the Effect Schema, then completed with what the
 * generator cannot say: descriptions and name rules (SchemaDocs, keyed by field path),
 * `${...}` interpolation, the "exactly one of" rules Lint enforces, and `extends`.
 */

type Json = Record<string, unknown>

const isObject = (u: unknown): u is Json => u !== null && typeof u === "object" && !Array.isArray(u)

/**
 * The pattern of a name schema, read from its `isPattern` check: the generator leaves it
 * out (it exports only `u`-flagged RegExps), and reading it keeps Names.ts the one rule.
 */
const patternOf = (schema: Schema.Top): string => {
  for (const check of schema.ast.checks ?? []) {
    const representation: unknown = check.annotations?.["representation"]
    if (isObject(representation) && representation["id"] === "effect/schema/isPattern" && isObject(representation["payload"])) {
      return String(representation["payload"]["source"])
    }
  }
  throw new Error("name schema without a pattern")
}

/** `Label(col)`, `Label(prop: col, ...)`: the written form Endpoint.ts parses (empty parts between commas are dropped there). */
const endpointPattern = (() => {
  const part = `${identifierSource}(?:\\s*:\\s*${identifierSource})?`
  return `^\\s*${identifierSource}\\s*\\((?:\\s*,)*\\s*${part}(?:\\s*,(?:\\s*,)*\\s*${part})*(?:\\s*,)*\\s*\\)\\s*$`
})()

const rulePatterns: Readonly<Record<NameRule, string>> = {
  identifier: patternOf(Identifier),
  name: patternOf(Name),
  table: patternOf(TableName),
  endpoint: endpointPattern
}

/**
 * A value that is exactly one `${params.x}` takes the param's type, so a number, flag or
 * choice may be written as one; `params` itself and `extends` are read before interpolation.
 */
const interpolationDef: Json = {
  type: "string",
  pattern: "^\\$\\{[^}]*\\}$",
  description: "A `${params.name}` or `${env.NAME}` expression, replaced by its value before the file is checked."
}
const interpolationRef: Json = { $ref: "#/$defs/Interpolation" }
const notInterpolated = (path: string): boolean => path === "extends" || path === "params" || path.startsWith("params.")

/**
 * The generator writes numbers as their JSON codec encodes them, non-finite ones as strings;
 * the loader decodes the YAML's own values, where such a string is no number.
 */
const isNonFiniteEncoding = (n: unknown): boolean =>
  isObject(n) && n["type"] === "string" && JSON.stringify(n["enum"]) === JSON.stringify(["Infinity", "-Infinity", "NaN"])
const isPlainString = (n: unknown): boolean => isObject(n) && n["type"] === "string" && Object.keys(n).length === 1
const onlyStrings = (n: unknown): boolean => isObject(n) && (n["type"] === "string" || n["$ref"] === interpolationRef["$ref"])

/** Closes every object that lists its properties, so editors flag unknown keys as lint does. */
const close = (node: Json): Json =>
  node["type"] === "object" && node["properties"] !== undefined && node["additionalProperties"] === true ? { ...node, additionalProperties: false } : node

/** Shared definitions (none today) are not walked by path, only closed. */
const closeAll = (node: unknown): unknown =>
  Array.isArray(node) ? node.map(closeAll) : isObject(node) ? close(Object.fromEntries(Object.entries(node).map(([k, v]) => [k, closeAll(v)]))) : node

interface Walk {
  readonly used: Set<string>
  readonly undocumented: Array<string>
}

const join = (path: string, key: string): string => (path === "" ? key : `${path}.${key}`)

/** A field: its description, then its shape. */
const field = (node: unknown, path: string, walk: Walk): unknown => {
  if (!isObject(node)) return node
  const doc: FieldDoc | undefined = fieldDocs[path]
  if (doc !== undefined) walk.used.add(path)
  const shaped = shape(node, path, doc, walk)
  if (doc?.description === undefined) return shaped
  return { description: doc.description, ...shaped }
}

/** The node at `path` (a union's members share their field's path). */
const shape = (node: Json, path: string, doc: FieldDoc | undefined, walk: Walk): Json => {
  if (Array.isArray(node["anyOf"])) {
    const members = (node["anyOf"] as Array<unknown>).filter((m) => !isNonFiniteEncoding(m)).flatMap((m) => {
      const s = isObject(m) ? shape(m, path, doc, walk) : m
      return isObject(s) && Object.keys(s).length === 1 && Array.isArray(s["anyOf"]) ? s["anyOf"] as Array<unknown> : [s]
    })
    // A plain string member already accepts every string: other string-only members are noise.
    const anyOf = members.some(isPlainString) ? members.filter((m) => isPlainString(m) || !onlyStrings(m)) : members
    return { ...node, anyOf: anyOf.filter((m, i) => anyOf.findIndex((o) => JSON.stringify(o) === JSON.stringify(m)) === i) }
  }
  const interpolable = !notInterpolated(path)
  switch (node["type"]) {
    case "string": {
      if (node["enum"] !== undefined) return interpolable ? { anyOf: [node, interpolationRef] } : node
      if (doc?.rule === undefined) return node
      const pattern = rulePatterns[doc.rule]
      // A name may be built with `${...}`; the loader checks the interpolated result.
      return { ...node, pattern: interpolable ? `${pattern}|\\$\\{` : pattern }
    }
    case "number":
    case "integer":
    case "boolean":
      return interpolable ? { anyOf: [node, interpolationRef] } : node
    case "array": {
      const out: Json = { ...node }
      if (isObject(node["items"])) out["items"] = field(node["items"], `${path}[]`, walk)
      if (Array.isArray(node["prefixItems"])) out["prefixItems"] = node["prefixItems"].map((i) => field(i, `${path}[]`, walk))
      return out
    }
    case "object": {
      const out: Json = { ...node }
      if (isObject(node["properties"])) {
        out["properties"] = Object.fromEntries(Object.entries(node["properties"]).map(([k, v]) => {
          const p = join(path, k)
          if (fieldDocs[p]?.description === undefined) walk.undocumented.push(p)
          return [k, field(v, p, walk)]
        }))
      }
      if (isObject(node["additionalProperties"])) out["additionalProperties"] = field(node["additionalProperties"], join(path, "*"), walk)
      if (doc?.keys !== undefined) out["propertyNames"] = { type: "string", pattern: rulePatterns[doc.keys] }
      if (doc?.maxEntries !== undefined) out["maxProperties"] = doc.maxEntries
      if (doc?.exactlyOne !== undefined) out["oneOf"] = doc.exactlyOne.map((k) => ({ required: [k] }))
      if (doc?.atLeastOne !== undefined) out["anyOf"] = doc.atLeastOne.map((k) => ({ required: [k] }))
      if (doc?.dependentRequired !== undefined) out["dependentRequired"] = doc.dependentRequired
      return close(out)
    }
    default:
      return node
  }
}

/** A file that `extends` another inherits every section, so none of them is required there. */
const allowExtends = (root: Json): Json => {
  const { required, ...rest } = root
  return { ...rest, if: { required: ["extends"] }, else: { required } }
}

const build = () => {
  const doc = Schema.toJsonSchemaDocument(PipelineSpec)
  const walk: Walk = { used: new Set(), undocumented: [] }
  const root = field(doc.schema, "", walk) as Json
  const schema: Json = {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: "https://polymath-etl.dev/pipeline.schema.json",
    title: "polymath-etl pipeline",
    description: pipelineDescription,
    ...allowExtends(root),
    $defs: { ...(closeAll(doc.definitions ?? {}) as Json), Interpolation: interpolationDef }
  }
  return { schema, undocumented: walk.undocumented, unused: Object.keys(fieldDocs).filter((p) => !walk.used.has(p)) }
}

/** The JSON Schema of pipeline files: `npm run schema` writes it to pipelines/pipeline.schema.json. */
export const pipelineJsonSchema = (): Record<string, unknown> => build().schema

/**
 * How SchemaDocs matches the spec: fields without a description, and documented paths
 * no field has any more (a renamed field). Both must be empty; the schema test checks it.
 */
export const schemaDocsCoverage = (): { readonly undocumented: ReadonlyArray<string>; readonly unused: ReadonlyArray<string> } => {
  const { undocumented, unused } = build()
  return { undocumented, unused }
}
