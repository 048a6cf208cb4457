/** Statements about the database itself: its identity and the uniqueness constraints MERGE relies on. */
import type { GraphVectorIndex } from "@polymath/engine"
import { invalidWrite, quote } from "./Cypher.ts"

/** Identifies the database: `name`, `id`, `creationDate`. */
export const databaseInfoStatement = "CALL db.info() YIELD id, name, creationDate RETURN id, name, toString(creationDate) AS creationDate"

/** The deterministic name of the uniqueness constraint on (label, key). */
export const constraintName = (label: string, key: ReadonlyArray<string>): string => {
  quote(label, "label")
  for (const k of key) quote(k, "key property")
  return `polymath_${label}_${key.join("_")}_unique`
}

/**
 * `CREATE VECTOR INDEX ... IF NOT EXISTS FOR (n:Label) ON (n.prop) OPTIONS {...}`; the name
 * is derived from label and property, so the same declaration is created once.
 */
export const vectorIndexStatement = (index: GraphVectorIndex): string => {
  const name = `${index.label}_${index.property}_vector`
  if (!Number.isInteger(index.dimensions) || index.dimensions < 1 || index.dimensions > 4096) throw invalidWrite(`vector index ${name}: dimensions must be 1-4096`)
  return `CREATE VECTOR INDEX ${quote(name, "index name")} IF NOT EXISTS FOR (n:${quote(index.label, "label")}) ON (n.${quote(index.property, "property")}) ` +
    `OPTIONS { indexConfig: { \`vector.dimensions\`: ${index.dimensions}, \`vector.similarity_function\`: '${index.similarity === "euclidean" ? "euclidean" : "cosine"}' } }`
}

/** `CREATE CONSTRAINT <name> IF NOT EXISTS FOR (n:Label) REQUIRE (n.a, n.b) IS UNIQUE` (single-property form for one key). */
export const uniqueConstraintStatement = (label: string, key: ReadonlyArray<string>): string => {
  if (key.length === 0) throw invalidWrite(`constraint for ${label} has no key properties`)
  const props = key.map((k) => `n.${quote(k, "key property")}`)
  const target = props.length === 1 ? props.join("") : `(${props.join(", ")})`
  return `CREATE CONSTRAINT ${quote(constraintName(label, key), "constraint name")} IF NOT EXISTS FOR (n:${quote(label, "label")}) REQUIRE ${target} IS UNIQUE`
}
