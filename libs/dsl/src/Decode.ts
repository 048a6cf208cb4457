import { Exit, Schema, SchemaIssue } from "effect"
import type { SchemaAST } from "effect"
import { error, suggest } from "./Diagnostic.ts"
import type { Diagnostic } from "./Diagnostic.ts"
import { pathKey, positionOf } from "./Located.ts"
import type { Located, Path } from "./Located.ts"
import { PipelineSpec } from "./Spec.ts"

const describeKind = (u: unknown): string =>
  u === null ? "null" : Array.isArray(u) ? "a list" : typeof u === "object" ? "a map" : typeof u

/**
 * What was found, for "must be X, got Y". A short scalar is shown as the file wrote it
 * ('euclid', number 3): "got string" would not say which value is wrong. A value that
 * came from `${...}` is described by its kind only, since it may hold an interpolated
 * secret that must never be echoed.
 */
const describeInput = (doc: Located, path: Path, u: unknown): string => {
  // Located keeps the source span of every scalar written with a `$` in it; one without a span had none.
  const span = doc.spans.get(pathKey(path))
  if (span !== undefined && span.source.slice(span.start, span.end).includes("${")) return describeKind(u)
  if (typeof u === "string" && u.length <= 40) return `'${u}'`
  if (typeof u === "number" || typeof u === "boolean") return `${typeof u} ${String(u)}`
  return describeKind(u)
}

const literalsOf = (ast: SchemaAST.AST): ReadonlyArray<string> | null => {
  if (ast._tag === "Literal") return [String(ast.literal)]
  if (ast._tag !== "Union") return null
  const all = ast.types.map(literalsOf)
  return all.every((l) => l !== null) ? all.flat() : null
}

const expectedOf = (ast: SchemaAST.AST): string => {
  const literals = literalsOf(ast)
  if (literals) return literals.length === 1 ? literals[0]! : `one of ${literals.join(", ")}`
  switch (ast._tag) {
    case "String": return "a string"
    case "Number": return "a number"
    case "Boolean": return "true or false"
    case "Arrays": return "a list"
    case "Objects": return "a map"
    case "Null": return "null"
    case "Union": return [...new Set(ast.types.map(expectedOf))].join(" or ")
    default: return "a different value"
  }
}

/**
 * Turns a schema issue tree into positioned diagnostics. A value is echoed only as the
 * file wrote it, never after interpolation (see describeInput).
 */
const collect = (doc: Located, issue: SchemaIssue.Issue, path: Path, out: Array<Diagnostic>): void => {
  // Past this many, the rest are not shown anyway, and each costs a did-you-mean search.
  if (out.length >= 1000) return
  switch (issue._tag) {
    case "Pointer":
      return collect(doc, issue.issue, [...path, ...issue.path.map((p) => (typeof p === "number" ? p : String(p)))], out)
    case "Composite":
      for (const i of issue.issues) collect(doc, i, path, out)
      return
    case "Filter": {
      // A map's key rule (params names, step names) says what the rule is; point at the key that breaks it.
      const key = issue.filter.annotations?.message === undefined ? firstKeyProblem(issue.issue, path) : null
      if (key) {
        out.push(error(positionOf(doc, key.path, "key"), `${label(path)} must be ${key.message.replace(/^must be /, "")} for each name; '${String(key.path[key.path.length - 1])}' is not`))
        return
      }
      out.push(error(positionOf(doc, path), `${label(path)} ${filterMessage(issue)}`))
      return
    }
    case "Encoding":
      return collect(doc, issue.issue, path, out)
    case "AnyOf": {
      // A union lists only the members of the input's kind (the list member for a list): report that member's problem.
      const input = valueAt(doc, path)
      if (issue.issues.length === 1) return collect(doc, issue.issues[0]!, path, out)
      const mapMember = issue.issues.find((i) => i._tag === "Composite" && i.ast._tag === "Objects")
      if (mapMember && input !== null && typeof input === "object" && !Array.isArray(input)) return collect(doc, mapMember, path, out)
      out.push(error(positionOf(doc, path), `${label(path)} must be ${expectedOf(issue.ast)}, got ${describeInput(doc, path, input)}`))
      return
    }
    case "UnexpectedKey": {
      const key = String(path[path.length - 1])
      const known = issue.ast._tag === "Objects" ? issue.ast.propertySignatures.map((p) => String(p.name)) : []
      out.push(error(positionOf(doc, path, "key"), `unknown key '${key}'${path.length > 1 ? ` in ${label(path.slice(0, -1))}` : ""}`, suggest(key, known, "keys") ?? (known.length > 0 ? `allowed keys: ${known.join(", ")}` : null)))
      return
    }
    case "MissingKey": {
      const owner = path.slice(0, -1)
      const key = String(path[path.length - 1])
      // A required first item: a list that must not be empty.
      if (typeof path[path.length - 1] === "number") {
        out.push(error(positionOf(doc, owner), `${label(owner)} must not be an empty list`))
        return
      }
      out.push(error(positionOf(doc, owner, "key"), `${label(owner)} is missing required key '${key}'`, owner.length === 0 ? "a pipeline file has pipeline, connections, sources and steps" : null))
      return
    }
    case "InvalidValue": {
      // A transformation's own message (a malformed endpoint) is written for users; keep it whole.
      const m = issue.annotations?.message
      out.push(error(positionOf(doc, path), typeof m === "string" ? m : `${label(path)} is not a valid value`))
      return
    }
    case "InvalidType":
      out.push(error(positionOf(doc, path), `${label(path)} must be ${expectedOf(issue.ast)}, got ${describeInput(doc, path, valueAt(doc, path))}`))
      return
    default:
      out.push(error(positionOf(doc, path), `${label(path)} is not a valid value`))
  }
}

/** The first rule a map's key breaks, with the key's path, under a key-rule issue. */
const firstKeyProblem = (issue: SchemaIssue.Issue, path: Path): { readonly path: Path; readonly message: string } | null => {
  switch (issue._tag) {
    case "Pointer":
      return firstKeyProblem(issue.issue, [...path, ...issue.path.map((p) => (typeof p === "number" ? p : String(p)))])
    case "Composite":
      for (const i of issue.issues) {
        const found = firstKeyProblem(i, path)
        if (found) return found
      }
      return null
    case "Filter": {
      const m = issue.filter.annotations?.message
      return typeof m === "string" && path.length > 0 ? { path, message: m } : firstKeyProblem(issue.issue, path)
    }
    default:
      return null
  }
}

const filterMessage = (issue: SchemaIssue.Filter): string => {
  const m = issue.filter.annotations?.message
  return typeof m === "string" ? m : "is not a valid value"
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
    const got = doc.value === null ? "the file is empty (or holds only comments)" : `got ${describeInput(doc, [], doc.value)}`
    return { spec: null, diagnostics: [error(positionOf(doc, []), `a pipeline file must be a YAML map with pipeline, connections, sources and steps; ${got}`, "start from pipelines/examples/movies.yaml")] }
  }
  const exit = Schema.decodeUnknownExit(PipelineSpec)(doc.value, { errors: "all", onExcessProperty: "error" })
  if (Exit.isSuccess(exit)) return { spec: exit.value, diagnostics: [] }
  const out: Array<Diagnostic> = []
  for (const reason of exit.cause.reasons) {
    if (reason._tag === "Fail" && Schema.isSchemaError(reason.error)) collect(doc, reason.error.issue, [], out)
    else out.push(error(positionOf(doc, []), "the pipeline could not be decoded"))
  }
  // Two rules of one field can both fail with one message (-1.5 is neither whole nor in range).
  const seen = new Set<string>()
  const unique = out.filter((d) => {
    const k = `${d.position?.file}:${d.position?.line}:${d.position?.col}:${d.message}`
    return !seen.has(k) && seen.add(k) !== undefined
  })
  return { spec: null, diagnostics: unique }
}

