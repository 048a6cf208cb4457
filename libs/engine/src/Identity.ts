import { createHash } from "node:crypto"
import type { Value } from "./Rows.ts"

// One canonical text per value, so that a value read from Postgres and the same value
// read back from the graph hash alike: integers whether bigint or number, temporals as
// their instant, maps with sorted keys.
const canonical = (v: Value): unknown => {
  if (v === null) return null
  switch (typeof v) {
    case "bigint":
      return `i:${v.toString()}`
    case "number":
      return Number.isInteger(v) ? `i:${v}` : `f:${v}`
    case "string":
      return `s:${v}`
    case "boolean":
      return `b:${v}`
  }
  if (v instanceof Date) return `t:${v.toISOString()}`
  if (Array.isArray(v)) return (v as ReadonlyArray<Value>).map(canonical)
  const map = v as { readonly [k: string]: Value }
  return Object.fromEntries(Object.keys(map).sort().map((k) => [k, canonical(map[k]!)]))
}

/** A 16-byte hash of an entity's identity values, equal for equal values whatever store they came from. */
export const identityHash = (values: ReadonlyArray<Value>): Uint8Array =>
  createHash("sha256").update(JSON.stringify(values.map(canonical))).digest().subarray(0, 16)

/** The content hash an embedding is recorded with: the model and the exact text it was made from. */
export const contentHash = (model: string, text: string): Uint8Array =>
  createHash("sha256").update(model).update("\u0000").update(text).digest()
