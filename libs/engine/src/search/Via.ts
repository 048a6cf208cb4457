import { isIdentifier } from "@polymath/dsl"
import type { GraphHop } from "../GraphConnector.ts"
import { SearchError } from "./SearchPlan.ts"

const form = "TYPE:Label or TYPE:Label:property=value (e.g. MENTIONS:Method, MENTIONS:Concept:name=BERT)"

/** Parses one `--via` value into a hop; names must be identifiers, the value is anything after `=`. */
export const parseVia = (text: string): GraphHop | SearchError => {
  const [type = "", label = "", ...rest] = text.split(":")
  const condition = rest.join(":")
  const bad = (why: string) => new SearchError({ message: `--via ${JSON.stringify(text)}: ${why}`, hint: `write ${form}` })
  if (!isIdentifier(type)) return bad(`${JSON.stringify(type)} is not a relationship type`)
  if (!isIdentifier(label)) return bad(`${JSON.stringify(label)} is not a label`)
  if (rest.length === 0) return { type, label, property: null }
  const eq = condition.indexOf("=")
  const name = eq === -1 ? "" : condition.slice(0, eq)
  if (!isIdentifier(name)) return bad(`${JSON.stringify(condition)} is not property=value`)
  return { type, label, property: { name, value: condition.slice(eq + 1) } }
}

/** Parses a `--filter column=value`; the column must be one the search lists under `filters`. */
export const parseFilter = (text: string, allowed: ReadonlyArray<string>): { readonly column: string; readonly value: string } | SearchError => {
  const eq = text.indexOf("=")
  const column = eq === -1 ? text : text.slice(0, eq)
  if (eq === -1 || !allowed.includes(column)) {
    return new SearchError({
      message: eq === -1 ? `--filter ${JSON.stringify(text)}: write column=value` : `--filter: '${column}' is not a filter of this search`,
      hint: allowed.length > 0 ? `filters: ${allowed.join(", ")}` : "the search declares no filters (add filters: [column, ...] to it)"
    })
  }
  return { column, value: text.slice(eq + 1) }
}
