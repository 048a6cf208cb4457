import type { GraphWrite, Identity, RelationshipWrite } from "../GraphConnector.ts"
import type { Value } from "../Rows.ts"

/** One identity value as a person reads it: strings bare, the rest as JSON (bigints as digits). */
export const showValue = (v: Value | undefined): string => {
  if (v === null || v === undefined) return "null"
  if (typeof v === "string") return v
  if (typeof v === "bigint") return v.toString()
  if (v instanceof Date) return v.toISOString()
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? x.toString() : x))
}

/** `Label(a, b)`: a node by its key values. */
export const showNode = (label: string, key: ReadonlyArray<Value>): string => `${label}(${key.map(showValue).join(", ")})`

/** The parts of a relationship identity: start key, end key, the relationship's own key values. */
export const splitRelationship = (w: RelationshipWrite, id: Identity) => {
  const s = w.start.key.length
  const e = s + w.end.key.length
  return { start: id.slice(0, s), end: id.slice(s, e), key: id.slice(e) }
}

/** `Passage(p1) -[MENTIONS {extractor_version: v1}]-> Concept(BERT, method)`, or `Concept(BERT, method)` for a node. */
export const showIdentity = (w: GraphWrite, id: Identity): string => {
  if (w.kind === "nodes") return showNode(w.label, id)
  const { start, end, key } = splitRelationship(w, id)
  const props = key.length === 0 ? "" : ` {${w.key.map((k, i) => `${k.property}: ${showValue(key[i])}`).join(", ")}}`
  return `${showNode(w.start.label, start)} -[${w.type}${props}]-> ${showNode(w.end.label, end)}`
}
