import { error, suggest, warning } from "./Diagnostic.ts"
import type { Diagnostic } from "./Diagnostic.ts"
import { identifierSource } from "./Identifier.ts"
import { occurrenceBefore, positionOf, positionWithin } from "./Located.ts"
import type { Located } from "./Located.ts"
import type { ScalarValue } from "./Spec.ts"

const expression = /\$\{([^}]*)\}/g
const whole = /^\$\{([^}]*)\}$/
const envExpr = new RegExp(`^env\\.(${identifierSource})(?::-(.*))?$`, "s")
const paramExpr = new RegExp(`^params\\.(${identifierSource})$`)

/** Where a `${` with no `}` after it starts, or -1. (A regex for this is quadratic on a run of `${`.) */
const unterminatedAt = (v: string): number => {
  const open = v.lastIndexOf("${")
  return open !== -1 && v.indexOf("}", open) === -1 ? open : -1
}

/** The part of a string that can hold whole `${...}` expressions: up to its last `}`. */
const closedPart = (v: string): string => v.slice(0, v.lastIndexOf("}") + 1)

/** Fields whose text is a query: interpolating into them would splice data into query text. */
const queryFields = new Set(["sql", "cypher"])

/** The environment variables a document's `${env.NAME}` expressions read, each once. */
export const envReferences = (doc: Located): ReadonlyArray<string> => {
  const names = new Set<string>()
  const walk = (v: unknown, top: boolean): void => {
    if (typeof v === "string") {
      for (const m of closedPart(v).matchAll(expression)) {
        const env = envExpr.exec(m[1]!.trim())
        if (env) names.add(env[1]!)
      }
    } else if (Array.isArray(v)) v.forEach((x) => walk(x, false))
    else if (v !== null && typeof v === "object") for (const [k, x] of Object.entries(v)) if (!(top && k === "params")) walk(x, false)
  }
  walk(doc.value, true)
  return [...names]
}

export interface InterpolateOptions {
  readonly params: Readonly<Record<string, ScalarValue>>
  /** The values of the variables `envReferences` lists; a missing or empty one is unset. */
  readonly env: Readonly<Record<string, string | undefined>>
  /** Validation without a runtime environment: a missing variable is a warning, not an error. */
  readonly allowMissingEnv: boolean
}

/**
 * Resolves `${params.x}` and `${env.X}` (with `${env.X:-default}`) in every string.
 * A string that is exactly one `${params.x}` takes the param's type, so numbers stay numbers.
 */
export const interpolate = (doc: Located, options: InterpolateOptions): { readonly doc: Located; readonly diagnostics: ReadonlyArray<Diagnostic> } => {
  const diagnostics: Array<Diagnostic> = []
  const paramNames = Object.keys(options.params)

  const resolve = (expr: string, path: ReadonlyArray<string | number>): ScalarValue | undefined => {
    const pos = positionOf(doc, path)
    const env = envExpr.exec(expr)
    if (env) {
      const value = options.env[env[1]!]
      if (value !== undefined && value !== "") return value
      if (env[2] !== undefined) return env[2]
      if (options.allowMissingEnv) {
        diagnostics.push(warning(pos, `environment variable ${env[1]} is not set`))
        return `<${env[1]}>`
      }
      diagnostics.push(error(pos, `environment variable ${env[1]} is not set`, `export ${env[1]}=... or write \${env.${env[1]}:-default}`))
      return undefined
    }
    const param = paramExpr.exec(expr)
    if (param) {
      if (param[1]! in options.params) return options.params[param[1]!]!
      diagnostics.push(error(pos, `unknown param '${param[1]}'`, suggest(param[1]!, paramNames, "params")))
      return undefined
    }
    const shown = expr.length > 40 ? `${expr.slice(0, 40)}...` : expr
    diagnostics.push(error(pos, `cannot interpolate '\${${shown}}'`, "use ${params.name} or ${env.NAME}"))
    return undefined
  }

  const walk = (v: unknown, path: Array<string | number>): unknown => {
    if (typeof v === "string") {
      if (!v.includes("${")) return v
      const field = path[path.length - 1]
      if (typeof field === "string" && queryFields.has(field)) {
        diagnostics.push(error(positionOf(doc, path), `${field} must not use \${...} interpolation: it would splice values into query text`, field === "sql" ? "reference params as :name; they are sent as query parameters" : "reference params as $name; they are sent as query parameters"))
        return v
      }
      const open = unterminatedAt(v)
      if (open !== -1) {
        const text = v.length - open > 40 ? `${v.slice(open, open + 40)}...` : v.slice(open)
        diagnostics.push(error(positionWithin(doc, path, "${", occurrenceBefore(v, "${", open)), `'${text}' is not closed: a \${...} expression ends with }`, "write ${params.name} or ${env.NAME}"))
        return v
      }
      const single = whole.exec(v)
      if (single) {
        const r = resolve(single[1]!.trim(), path)
        return r === undefined ? v : r
      }
      return v.replace(expression, (m, expr: string) => {
        const r = resolve(expr.trim(), path)
        return r === undefined ? m : String(r)
      })
    }
    if (Array.isArray(v)) return v.map((x, i) => walk(x, [...path, i]))
    if (v !== null && typeof v === "object") {
      const out: Record<string, unknown> = {}
      for (const [k, x] of Object.entries(v)) out[k] = path.length === 0 && k === "params" ? x : walk(x, [...path, k])
      return out
    }
    return v
  }

  return { doc: { ...doc, value: walk(doc.value, []) }, diagnostics }
}

/** Parses `--set k=v` values against the declared params; the default's type decides the value's type. */
export const applyOverrides = (
  defaults: Readonly<Record<string, ScalarValue>>,
  overrides: ReadonlyArray<string>
): { readonly params: Record<string, ScalarValue>; readonly diagnostics: ReadonlyArray<Diagnostic> } => {
  // Copied only to be changed: a file may declare very many params.
  const params: Record<string, ScalarValue> = overrides.length === 0 ? defaults as Record<string, ScalarValue> : { ...defaults }
  const diagnostics: Array<Diagnostic> = []
  for (const o of overrides) {
    const eq = o.indexOf("=")
    if (eq <= 0) {
      diagnostics.push(error(null, `--set ${o}: expected key=value`))
      continue
    }
    const key = o.slice(0, eq)
    const raw = o.slice(eq + 1)
    if (!(key in defaults)) {
      diagnostics.push(error(null, `--set ${key}: unknown param`, suggest(key, Object.keys(defaults), "params")))
      continue
    }
    const d = defaults[key]
    if (typeof d === "number") {
      const n = Number(raw)
      if (raw.trim() === "" || Number.isNaN(n)) diagnostics.push(error(null, `--set ${key}: expected a number`))
      else params[key] = n
    } else if (typeof d === "boolean") {
      if (raw !== "true" && raw !== "false") diagnostics.push(error(null, `--set ${key}: expected true or false`))
      else params[key] = raw === "true"
    } else params[key] = raw
  }
  return { params, diagnostics }
}
