import type { Value } from "../Rows.ts"

/*
 * Values as a pipeline test compares, orders and prints them. Test rows come from YAML,
 * so they are strings, numbers, booleans, null, lists and maps; the rules still cover
 * what a live row carries (bigint, Date) so that they mean the same thing everywhere.
 */

/** Exact equality: `1` and `"1"` differ, numbers compare by value, maps by their entries. */
export const sameValue = (a: Value | undefined, b: Value | undefined): boolean => {
  if (a === undefined || a === null || b === undefined || b === null) return (a ?? null) === (b ?? null)
  if ((typeof a === "bigint" || typeof a === "number") && (typeof b === "bigint" || typeof b === "number")) {
    return typeof a === typeof b ? a === b : Number.isInteger(Number(a)) && Number.isInteger(Number(b)) && BigInt(a) === BigInt(b)
  }
  if (a instanceof Date || b instanceof Date) return a instanceof Date && b instanceof Date && a.getTime() === b.getTime()
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false
    return (a as ReadonlyArray<Value>).every((x, i) => sameValue(x, (b as ReadonlyArray<Value>)[i]))
  }
  if (typeof a === "object" && typeof b === "object") return sameEntries(a as Record<string, Value>, b as Record<string, Value>)
  return a === b
}

/** Two property maps hold the same properties with the same values. */
export const sameEntries = (a: Readonly<Record<string, Value>>, b: Readonly<Record<string, Value>>): boolean => {
  const ka = Object.keys(a)
  return ka.length === Object.keys(b).length && ka.every((k) => k in b && sameValue(a[k], b[k]))
}

const rank = (v: Value): number =>
  typeof v === "boolean" ? 0 : typeof v === "number" || typeof v === "bigint" ? 1 : typeof v === "string" ? 2 : v instanceof Date ? 3 : 4

/**
 * Ascending order of non-null values, as Postgres orders one column's values: numbers by
 * value, strings by code point (a `C` collation; a database's own collation may order
 * letters of different case otherwise), false before true, dates by instant.
 */
export const compareValues = (a: Value, b: Value): number => {
  const ra = rank(a)
  const rb = rank(b)
  if (ra !== rb) return ra - rb
  if (typeof a === "number" || typeof a === "bigint") return Number(a) < Number(b as number) ? -1 : Number(a) > Number(b as number) ? 1 : 0
  if (typeof a === "string") return a < (b as string) ? -1 : a > (b as string) ? 1 : 0
  if (typeof a === "boolean") return Number(a) - Number(b as boolean)
  if (a instanceof Date) return a.getTime() - (b as Date).getTime()
  const ta = showValue(a)
  const tb = showValue(b)
  return ta < tb ? -1 : ta > tb ? 1 : 0
}

/** Ascending with NULLs last, as `ORDER BY c ASC` (and, reversed, `DESC` with NULLs first). */
export const compareNullsLast = (a: Value | undefined, b: Value | undefined): number => {
  const an = a === undefined || a === null
  const bn = b === undefined || b === null
  if (an || bn) return an === bn ? 0 : an ? 1 : -1
  return compareValues(a, b)
}

/** One value as a test report prints it: JSON, bigints and dates as their text. */
export const showValue = (v: Value | undefined): string =>
  v === undefined
    ? "(absent)"
    : JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? x.toString() : x instanceof Date ? x.toISOString() : x))

/** `{name: "attention", type: "method"}`: a property map as a report prints it. */
export const showMap = (m: Readonly<Record<string, Value>>): string =>
  `{${Object.keys(m).map((k) => `${k}: ${showValue(m[k])}`).join(", ")}}`

/** A map without its NULL entries: a NULL property is no property in the graph. */
export const withoutNulls = (m: Readonly<Record<string, Value>>): Record<string, Value> => {
  const out: Record<string, Value> = {}
  for (const [k, v] of Object.entries(m)) if (v !== null && v !== undefined) out[k] = v
  return out
}
