import { Exit, Schema, SchemaAST, SchemaIssue } from "effect"
import { error, suggest } from "./Diagnostic.ts"
import type { Diagnostic } from "./Diagnostic.ts"
import { positionOf } from "./Located.ts"
import type { Located, Path } from "./Located.ts"
import { PipelineSpec } from "./Spec.ts"

const formatLeaf = SchemaIssue.makeFormatterDefault()

const describeInput = (u: unknown): string =>
  u === null ? "null" : Array.isArray(u) ? "a list" : typeof u === "object" ? "a map" : typeof u

const expectedOf = (ast: SchemaAST.AST): string => {
  switch (ast._tag) {
    case "String": return "a string"
    case "Number": return "a number"
    case "Boolean": return "true or false"
    case "Arrays": return "a list"
    case "Objects": return "a map"
    case "Null": return "null"
    case "Literal": return JSON.stringify(ast.literal)
    case "Union": return ast.types.map(expectedOf).join(" or ")
    default: return "a different value"
  }
}

/**
 * Turns a schema issue tree into positioned diagnostics. Values are described by
 * type only: a value may hold an interpolated secret, so it is never echoed.
 */
const collect = (doc: Located, issue: SchemaIssue.Issue, path: Path, out: Array<Diagnostic>): void => {
  switch (issue._tag) {
    case "Pointer":
      return collect(doc, issue.issue, [...path, ...issue.path.map((p) => (typeof p === "number" ? p : String(p)))], out)
    case "Composite":
      for (const i of issue.issues) collect(doc, i, path, out)
      return
    case "Filter":
      out.push(error(positionOf(doc, path), `${label(path)} ${filterMessage(issue)}`))
      return
    case "Encoding":
      return collect(doc, issue.issue, path, out)
    case "AnyOf": {
      // A union: report the member that got furthest (a map member when the input is a map).
      const input = valueAt(doc, path)
      const mapMember = issue.issues.find((i) => i._tag === "Composite" && i.ast._tag === "Objects")
      if (mapMember && input !== null && typeof input === "object" && !Array.isArray(input)) return collect(doc, mapMember, path, out)
      out.push(error(positionOf(doc, path), `${label(path)} must be ${expectedOf(issue.ast)}, got ${describeInput(input)}`))
      return
    }
    case "UnexpectedKey": {
      const key = String(path[path.length - 1])
      const known = issue.ast._tag === "Objects" ? issue.ast.propertySignatures.map((p) => String(p.name)) : []
      out.push(error(positionOf(doc, path, "key"), `unknown key '${key}'${path.length > 1 ? ` in ${label(path.slice(0, -1))}` : ""}`, suggest(key, known, "keys")))
      return
    }
    case "MissingKey":
      out.push(error(positionOf(doc, path.slice(0, -1), "key"), `${label(path.slice(0, -1))} is missing required key '${String(path[path.length - 1])}'`))
      return
    case "InvalidValue": {
      // A transformation's own message (a malformed endpoint) is written for users; keep it whole.
      const m = issue.annotations?.message
      out.push(error(positionOf(doc, path), typeof m === "string" ? m : `${label(path)}: ${formatLeaf(issue)}`))
      return
    }
    case "InvalidType":
      out.push(error(positionOf(doc, path), `${label(path)} must be ${expectedOf(issue.ast)}, got ${describeInput(valueAt(doc, path))}`))
      return
    default:
      out.push(error(positionOf(doc, path), `${label(path)}: ${formatLeaf(issue)}`))
  }
}

const filterMessage = (issue: SchemaIssue.Filter): string => {
  const m = issue.filter.annotations?.message
  return typeof m === "string" ? m : formatLeaf(issue).split("\n")[0]!
}

const valueAt = (doc: Located, path: Path): unknown => {
  let v: unknown = doc.value
  for (const p of path) v = v !== null && typeof v === "object" ? (v as Record<string | number, unknown>)[p] : undefined
  return v
}

/** `steps.embed.into.table` — how a path reads in a message. */
export const label = (path: Path): string =>
  path.length === 0 ? "the pipeline" : path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("")

/** Decodes an interpolated document against the spec schema, or returns every problem. */
export const decodeSpec = (doc: Located): { readonly spec: PipelineSpec | null; readonly diagnostics: ReadonlyArray<Diagnostic> } => {
  if (doc.value === null || typeof doc.value !== "object" || Array.isArray(doc.value)) {
    return { spec: null, diagnostics: [error(positionOf(doc, []), "a pipeline file must be a YAML map with `pipeline`, `connections`, `sources` and `steps`")] }
  }
  const exit = Schema.decodeUnknownExit(PipelineSpec)(doc.value, { errors: "all", onExcessProperty: "error" })
  if (Exit.isSuccess(exit)) return { spec: exit.value, diagnostics: [] }
  const out: Array<Diagnostic> = []
  for (const reason of exit.cause.reasons) {
    if (reason._tag === "Fail" && Schema.isSchemaError(reason.error)) collect(doc, reason.error.issue, [], out)
    else out.push(error(null, "the pipeline could not be decoded"))
  }
  return { spec: null, diagnostics: out }
}

void SchemaAST
