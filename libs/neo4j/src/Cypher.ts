/**
 * The building blocks of the connector's Cypher text. Labels, relationship types and
 * property names cannot be parameters, so they are validated identifiers quoted with
 * backticks; every value travels as a parameter.
 *
 * Parameters shared by the write statements: `$scope` (the scope value), `$runId`.
 * Row maps are flat: a value of group `k` (node key or relationship identity
 * properties), `p` (other properties), `s` / `e` (start and end node keys) travels as
 * `<group>_<property>`, and `i` (the row's index in the caller's batch) only where a
 * statement needs it. Neo4j reads a flat map's fields faster than nested maps': the
 * MENTIONS statement of batch-v1 cost its server about 10% less CPU that way.
 */
import { identifierPattern, isIdentifier } from "@polymath/dsl"
import { Reason } from "@polymath/engine"
import type { NodeWrite, RelationshipWrite } from "@polymath/engine"
import { invalidInput } from "./Neo4jError.ts"
import type { Neo4jError } from "./Neo4jError.ts"

/** Validates `name` and quotes it with backticks; throws a non-retryable Neo4jError for anything else. */
export const quote = (name: string, what = "identifier"): string => {
  if (!isIdentifier(name)) {
    throw invalidInput(
      new Reason.Syntax({ detail: "InvalidIdentifier" }),
      `invalid ${what} ${JSON.stringify(name)}: must match ${identifierPattern.source}`
    )
  }
  // Unreachable for valid identifiers; kept so that quoting stays safe if the rule is ever widened.
  return `\`${name.replace(/`/g, "``")}\``
}

/** A statement that cannot be built from the write's shape (a pipeline mistake, never retried). */
export const invalidWrite = (message: string): Neo4jError => invalidInput(new Reason.Syntax({ detail: "InvalidWrite" }), message)

/** A node pattern's label and key property names, in key order. */
export interface NodeShape {
  readonly label: string
  readonly key: ReadonlyArray<string>
}

/** The shape of one node MERGE statement. */
export interface NodeStatement extends NodeShape {
  /** Non-key properties SET from the row. */
  readonly properties: ReadonlyArray<string>
  /** An extra label SET on every node of this statement (from `labelFrom`), or null. */
  readonly extraLabel: string | null
  /** The property holding the list of scope values. */
  readonly scopeProperty: string
}

/** The shape of one relationship MERGE statement. */
export interface RelationshipStatement {
  readonly type: string
  readonly start: NodeShape
  readonly end: NodeShape
  /** Identity properties, part of the MERGE pattern. */
  readonly key: ReadonlyArray<string>
  /** Other properties SET from the row. */
  readonly properties: ReadonlyArray<string>
  readonly scopeProperty: string
}

/** A relationship pattern without its properties: what scans, counts and unscoping match on. */
export type RelationshipShape = Omit<RelationshipStatement, "properties" | "scopeProperty">

/** The node pattern of an engine node write or relationship endpoint. */
export const nodeShape = (write: Pick<NodeWrite, "label" | "key">): NodeShape => ({ label: write.label, key: write.key.map((k) => k.property) })

/** The relationship pattern of an engine relationship write. */
export const relationshipShape = (write: RelationshipWrite): RelationshipShape => ({
  type: write.type,
  start: nodeShape(write.start),
  end: nodeShape(write.end),
  key: write.key.map((k) => k.property)
})

/** The groups of a row map's fields (see the module comment). */
export type RowGroup = "k" | "p" | "s" | "e"

/** The row-map field name of property `name` in `group`: distinct across groups, a valid identifier for a valid name. */
export const rowFieldName = (group: RowGroup, name: string): string => `${group}_${name}`

/** `` row.`k_doi` ``: the value of property `name` of `group` in the current row. */
export const rowField = (group: RowGroup, name: string): string => {
  quote(name, "property")
  return `row.${quote(rowFieldName(group, name), "property")}`
}

/** `{a: row.g_a, b: row.g_b}` for the given property names. */
export const propertyMap = (keys: ReadonlyArray<string>, group: RowGroup): string =>
  `{${keys.map((k) => `${quote(k, "key property")}: ${rowField(group, k)}`).join(", ")}}`

/** `(v:Label {key: row.g_key, ...})`; a node pattern without key properties is refused. */
export const nodePattern = (v: string, node: NodeShape, group: RowGroup): string => {
  if (node.key.length === 0) throw invalidWrite(`node pattern for ${node.label} has no key properties`)
  return `(${v}:${quote(node.label, "label")} ${propertyMap(node.key, group)})`
}

/** `[r:TYPE {identity...}]` (identity from the row's `k` group); an empty identity gives `[r:TYPE]`: one relationship per pair of nodes. */
export const relationshipPattern = (type: string, key: ReadonlyArray<string>): string =>
  `[r:${quote(type, "relationship type")}${key.length === 0 ? "" : ` ${propertyMap(key, "k")}`}]`

/** True for an entity whose scope list holds `$scope`. */
export const scoped = (v: string, scopeProperty: string): string => `$scope IN ${v}.${quote(scopeProperty, "scope property")}`
