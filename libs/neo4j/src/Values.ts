/**
 * Conversion between engine values and what the driver packs and returns.
 * The driver packs a JS `number` as a Cypher Float and a `bigint` as an Integer,
 * which is exactly the engine's convention, so numbers pass through untouched.
 */
import type { Value } from "@polymath/engine"
import neo4j from "neo4j-driver"
import type { Record as Neo4jRecord } from "neo4j-driver"

const { DateTime } = neo4j.types

/** An engine value as a driver parameter: Dates become UTC DateTimes, everything else keeps its type. */
export const toDriverValue = (value: Value | undefined): unknown => {
  if (value === undefined || value === null) return null
  if (value instanceof Date) {
    // The driver would otherwise pack a Date as an empty map.
    return new DateTime(
      value.getUTCFullYear(), value.getUTCMonth() + 1, value.getUTCDate(),
      value.getUTCHours(), value.getUTCMinutes(), value.getUTCSeconds(),
      value.getUTCMilliseconds() * 1_000_000, 0
    )
  }
  if (Array.isArray(value)) return value.map(toDriverValue)
  if (typeof value === "object") return toDriverParams(value as Readonly<Record<string, Value>>)
  return value
}

/** A parameter map with every value converted by `toDriverValue`. */
export const toDriverParams = (params: Readonly<Record<string, Value>>): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(params)) out[k] = toDriverValue(v)
  return out
}

const isTemporal = (u: unknown): boolean =>
  neo4j.isDateTime(u as never) || neo4j.isDate(u as never) || neo4j.isLocalDateTime(u as never) ||
  neo4j.isTime(u as never) || neo4j.isLocalTime(u as never) || neo4j.isDuration(u as never)

const fromProperties = (props: Readonly<Record<string, unknown>>): { readonly [k: string]: Value } => {
  const out: Record<string, Value> = {}
  for (const [k, v] of Object.entries(props)) out[k] = fromDriverValue(v)
  return out
}

/**
 * A driver value as a source row would carry it, so that identities read back from the graph
 * hash like the rows they were written from: Integers become numbers when safe (else bigint),
 * DateTime / Date / LocalDateTime the JS Date of the same instant, lists element-wise.
 */
export const identityValueFromDriver = (value: unknown): Value => {
  if (neo4j.isDateTime(value as never) || neo4j.isDate(value as never) || neo4j.isLocalDateTime(value as never)) {
    return (value as { readonly toStandardDate: () => Date }).toStandardDate()
  }
  if (Array.isArray(value)) return value.map(identityValueFromDriver)
  return fromDriverValue(value)
}

/**
 * A driver result value as an engine value: Integers become numbers when safe (else bigint),
 * temporals ISO strings, nodes and relationships their property maps, paths their nodes' maps.
 */
export const fromDriverValue = (value: unknown): Value => {
  if (value === null || value === undefined) return null
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return value
  if (neo4j.isInt(value)) return value.inSafeRange() ? value.toNumber() : value.toBigInt()
  if (isTemporal(value)) return String(value)
  if (neo4j.isNode(value as never) || neo4j.isRelationship(value as never)) {
    return fromProperties((value as { readonly properties: Record<string, unknown> }).properties)
  }
  if (neo4j.isPath(value as never)) {
    const path = value as { readonly start: unknown; readonly segments: ReadonlyArray<{ readonly end: unknown }> }
    return [fromDriverValue(path.start), ...path.segments.map((s) => fromDriverValue(s.end))]
  }
  if (neo4j.isPoint(value)) {
    const p = value
    return p.z === undefined
      ? { srid: fromDriverValue(p.srid), x: p.x, y: p.y }
      : { srid: fromDriverValue(p.srid), x: p.x, y: p.y, z: p.z }
  }
  if (value instanceof Int8Array) return Array.from(value)
  if (Array.isArray(value)) return value.map(fromDriverValue)
  if (Object.getPrototypeOf(value) === Object.prototype) return fromProperties(value as Record<string, unknown>)
  // Vectors, UUIDs and types this driver cannot represent: their string form is the most useful.
  return String(value)
}

/** A numeric column of a result record as a number (0 when the record or column is absent). */
export const numberOf = (record: Neo4jRecord | undefined, key: string): number => Number(fromDriverValue(record?.get(key) ?? 0))
