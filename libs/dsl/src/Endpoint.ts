import { Effect, Schema, SchemaGetter, SchemaIssue } from "effect"
import { identifierSource } from "./Identifier.ts"
import { toPropertyMap } from "./Mapping.ts"
import type { PropertyMap } from "./Mapping.ts"
import { Identifier, NamedMap } from "./Names.ts"

/** A relationship endpoint: the node label and the key properties MATCHed from row columns. */
export interface Endpoint {
  readonly label: string
  readonly key: PropertyMap
}

const endpointPattern = new RegExp(`^\\s*(${identifierSource})\\s*\\(([^)]*)\\)\\s*$`)
const bareKey = new RegExp(`^\\s*(${identifierSource})\\s*$`)
const namedKey = new RegExp(`^\\s*(${identifierSource})\\s*:\\s*(${identifierSource})\\s*$`)

/** How an endpoint is written: `Label(col)`, `Label(prop: col, ...)`, or `{ label, key: { prop: col } }`. */
export type EndpointInput = string | { readonly label: string; readonly key: Readonly<Record<string, string>> }

/** Parses an endpoint as written; returns an error message when malformed. */
export const parseEndpoint = (spec: EndpointInput): Endpoint | string => {
  if (typeof spec !== "string") return { label: spec.label, key: toPropertyMap(spec.key) }
  const m = endpointPattern.exec(spec)
  if (!m) return `endpoint '${spec}' must look like Label(column) or Label(property: column, ...)`
  const parts = m[2]!.split(",").filter((s) => s.trim() !== "")
  if (parts.length === 0) return `endpoint '${spec}' names no key`
  const key: Array<{ property: string; column: string }> = []
  for (const part of parts) {
    const named = namedKey.exec(part)
    const bare = bareKey.exec(part)
    if (named) key.push({ property: named[1]!, column: named[2]! })
    else if (bare) key.push({ property: bare[1]!, column: bare[1]! })
    else return `endpoint '${spec}': '${part.trim()}' is not a key (use property or property: column)`
  }
  return { label: m[1]!, key }
}

const DecodedEndpoint = Schema.Struct({
  label: Schema.String,
  key: Schema.Array(Schema.Struct({ property: Schema.String, column: Schema.String }))
})

/**
 * `Passage(passage_id)` or `Concept(name: concept_name, type: concept_type)`, or the same
 * as a map. Decoding parses it, so lint and the plan see only the decoded `Endpoint`; a
 * malformed one fails decoding with a message placed at the endpoint.
 */
export const EndpointSpec = Schema.Union([
  Schema.String,
  Schema.Struct({ label: Identifier, key: NamedMap(Identifier, Identifier) })
]).pipe(Schema.decodeTo(DecodedEndpoint, {
  decode: SchemaGetter.transformEffect((input: EndpointInput) => {
    const parsed = parseEndpoint(input)
    return typeof parsed === "string" ? Effect.fail(new SchemaIssue.InvalidValue({ message: parsed })) : Effect.succeed(parsed)
  }),
  encode: SchemaGetter.transform((e: Endpoint) => ({ label: e.label, key: Object.fromEntries(e.key.map((k) => [k.property, k.column])) }))
}))

/** Decodes one endpoint outside a whole spec (lint of a file that failed decoding); null when malformed. */
export const decodeEndpoint = (input: unknown): Endpoint | null => {
  const r = Schema.decodeUnknownExit(EndpointSpec)(input)
  return r._tag === "Success" ? r.value : null
}
