import { positionOf } from "@polymath/dsl"
import type { Path, Position } from "@polymath/dsl"
import type { Value } from "../Rows.ts"
import type { SimulatedNode, SimulatedRelationship, Simulation } from "./Simulate.ts"
import type { TestFile } from "./TestFile.ts"
import { sameEntries, sameValue, showMap, showValue, withoutNulls } from "./Values.ts"

/** A property whose value differs between the expectation and what the mappings made. */
export interface PropertyDifference {
  readonly property: string
  /** Undefined: the expectation does not have the property. */
  readonly expected: Value | undefined
  /** Undefined: the entity does not have it. */
  readonly actual: Value | undefined
}

/** One way a case's outcome differs from its expectation. */
export interface TestFailure {
  /** `missing`: expected, not made; `unexpected`: made, not expected; `different`: the same entity with other values; `rows`: given rows no source could yield. */
  readonly kind: "missing" | "unexpected" | "different" | "rows"
  readonly entity: "node" | "relationship" | "embedding" | "rejection" | "row"
  /** The label, relationship type, step or source the entity is listed under. */
  readonly group: string
  /** The entity as the report prints it. */
  readonly subject: string
  readonly differences: ReadonlyArray<PropertyDifference>
  /** One line saying what differs. */
  readonly message: string
  /** The expectation (or, for an unexpected entity, the list it is missing from; for rows, the row) in the test file. */
  readonly position: Position | null
}

/** Pairs equal items, then items of one identity; what is left is missing or unexpected. */
const match = <E, A>(expected: ReadonlyArray<E>, actual: ReadonlyArray<A>, same: (e: E, a: A) => boolean, sameIdentity: (e: E, a: A) => boolean) => {
  const left = new Set(actual.map((_, i) => i))
  const unmatched: Array<number> = []
  expected.forEach((e, i) => {
    const j = [...left].find((k) => same(e, actual[k]!))
    if (j === undefined) unmatched.push(i)
    else left.delete(j)
  })
  const different: Array<{ readonly e: number; readonly a: A }> = []
  const missing: Array<number> = []
  for (const i of unmatched) {
    const j = [...left].find((k) => sameIdentity(expected[i]!, actual[k]!))
    if (j === undefined) missing.push(i)
    else {
      left.delete(j)
      different.push({ e: i, a: actual[j]! })
    }
  }
  return { different, missing, unexpected: [...left].map((k) => actual[k]!) }
}

const differences = (expected: Readonly<Record<string, Value>>, actual: Readonly<Record<string, Value>>): ReadonlyArray<PropertyDifference> =>
  [...new Set([...Object.keys(expected), ...Object.keys(actual)])]
    .filter((p) => !sameValue(expected[p], actual[p]))
    .map((property) => ({ property, expected: expected[property], actual: actual[property] }))

const showDifferences = (ds: ReadonlyArray<PropertyDifference>): string =>
  ds.map((d) => `${d.property}: expected ${showValue(d.expected)}, got ${showValue(d.actual)}`).join("; ")

const containedIn = (part: Readonly<Record<string, Value>>, whole: Readonly<Record<string, Value>>): boolean =>
  Object.entries(part).every(([k, v]) => sameValue(whole[k], v))

const node = (l: string, props: Readonly<Record<string, Value>>) => `(:${l} ${showMap(props)})`

const relationship = (type: string, start: Readonly<Record<string, Value>>, end: Readonly<Record<string, Value>>, props: Readonly<Record<string, Value>>, labels?: SimulatedRelationship) =>
  `(${labels ? `:${labels.startLabel} ` : ""}${showMap(start)})-[:${type}${Object.keys(props).length > 0 ? ` ${showMap(props)}` : ""}]->(${labels ? `:${labels.endLabel} ` : ""}${showMap(end)})`

/** Compares case `index` of the test file with what the mappings made of its rows. Only the kinds its `expect` lists are compared. */
export const compareCase = (t: TestFile, index: number, outcome: Simulation): ReadonlyArray<TestFailure> => {
  const c = t.spec.tests[index]!
  const at = (path: Path, prefer: "key" | "value" = "value") => positionOf(t.doc, ["tests", index, ...path], prefer)
  const failures: Array<TestFailure> = []
  const push = (f: Omit<TestFailure, "message">, message: string) => failures.push({ ...f, message })

  for (const p of outcome.problems) {
    push({ kind: "rows", entity: "row", group: p.source, subject: `${p.source}[${p.row}]`, differences: [], position: at(["sources", p.source, p.row]) }, `source ${p.source}, row ${p.row + 1}: ${p.message}`)
  }
  if (outcome.problems.length > 0) return failures

  for (const [l, entries] of Object.entries(c.expect.nodes ?? {})) {
    const expected = entries.map((e) => withoutNulls(e as Record<string, Value>))
    const actual = outcome.nodes.filter((n) => n.label === l || n.extraLabels.includes(l))
    const m = match(expected, actual, (e, a) => sameEntries(e, a.properties), (e, a: SimulatedNode) => containedIn(a.key, e))
    for (const { e, a } of m.different) {
      const ds = differences(expected[e]!, a.properties)
      push({ kind: "different", entity: "node", group: l, subject: node(l, a.key), differences: ds, position: at(["expect", "nodes", l, e]) }, `${l} node ${showMap(a.key)} differs: ${showDifferences(ds)}`)
    }
    for (const e of m.missing) {
      push({ kind: "missing", entity: "node", group: l, subject: node(l, expected[e]!), differences: [], position: at(["expect", "nodes", l, e]) }, `missing ${l} node ${showMap(expected[e]!)}`)
    }
    for (const a of m.unexpected) {
      push({ kind: "unexpected", entity: "node", group: l, subject: node(l, a.properties), differences: [], position: at(["expect", "nodes", l], "key") }, `unexpected ${l} node ${showMap(a.properties)} (from ${a.unit})`)
    }
  }

  for (const [type, entries] of Object.entries(c.expect.relationships ?? {})) {
    const expected = entries.map((e) => ({ start: e.start as Record<string, Value>, end: e.end as Record<string, Value>, properties: withoutNulls((e.properties ?? {}) as Record<string, Value>) }))
    const actual = outcome.relationships.filter((r) => r.type === type)
    const m = match(
      expected,
      actual,
      (e, a) => sameEntries(e.start, a.start) && sameEntries(e.end, a.end) && sameEntries(e.properties, a.properties),
      (e, a) => sameEntries(e.start, a.start) && sameEntries(e.end, a.end) && containedIn(a.key, e.properties)
    )
    for (const { e, a } of m.different) {
      const ds = differences(expected[e]!.properties, a.properties)
      push({ kind: "different", entity: "relationship", group: type, subject: relationship(type, a.start, a.end, a.key, a), differences: ds, position: at(["expect", "relationships", type, e]) }, `${relationship(type, a.start, a.end, a.key, a)} differs: ${showDifferences(ds)}`)
    }
    for (const e of m.missing) {
      const x = expected[e]!
      push({ kind: "missing", entity: "relationship", group: type, subject: relationship(type, x.start, x.end, x.properties), differences: [], position: at(["expect", "relationships", type, e]) }, `missing ${relationship(type, x.start, x.end, x.properties)}`)
    }
    for (const a of m.unexpected) {
      push({ kind: "unexpected", entity: "relationship", group: type, subject: relationship(type, a.start, a.end, a.properties, a), differences: [], position: at(["expect", "relationships", type], "key") }, `unexpected ${relationship(type, a.start, a.end, a.properties, a)} (from ${a.unit})`)
    }
  }

  for (const [step, entries] of Object.entries(c.expect.embed ?? {})) {
    const actual = outcome.embedded.filter((x) => x.step === step)
    const m = match(entries, actual, (e, a) => sameValue(e.id, a.id) && e.text === a.text, (e, a) => sameValue(e.id, a.id))
    for (const { e, a } of m.different) {
      const ds = [{ property: "text", expected: entries[e]!.text, actual: a.text }]
      push({ kind: "different", entity: "embedding", group: step, subject: `${step} id ${showValue(a.id)}`, differences: ds, position: at(["expect", "embed", step, e]) }, `${step} embeds id ${showValue(a.id)} with another text: ${showDifferences(ds)}`)
    }
    for (const e of m.missing) {
      push({ kind: "missing", entity: "embedding", group: step, subject: `${step} id ${showValue(entries[e]!.id)}`, differences: [], position: at(["expect", "embed", step, e]) }, `${step} does not embed id ${showValue(entries[e]!.id)} (text ${showValue(entries[e]!.text)})`)
    }
    for (const a of m.unexpected) {
      push({ kind: "unexpected", entity: "embedding", group: step, subject: `${step} id ${showValue(a.id)}`, differences: [], position: at(["expect", "embed", step], "key") }, `${step} also embeds id ${showValue(a.id)} (text ${showValue(a.text)})`)
    }
  }

  if (c.expect.rejected !== undefined) {
    // Expectations naming a reason are matched first, so one without a reason cannot take their row.
    const order = c.expect.rejected.map((r, i) => ({ r, i })).sort((a, b) => Number(a.r.reason === undefined) - Number(b.r.reason === undefined))
    const expected = order.map((o) => o.r)
    const m = match(
      expected,
      outcome.rejected,
      (e, a) => e.step === a.step && sameEntries(e.key, a.key) && (e.reason === undefined || e.reason === a.reason),
      (e, a) => e.step === a.step && sameEntries(e.key, a.key)
    )
    const row = (step: string, key: Readonly<Record<string, Value>>) => `${step} row ${showMap(key)}`
    for (const { e, a } of m.different) {
      const ds = [{ property: "reason", expected: expected[e]!.reason, actual: a.reason }]
      push({ kind: "different", entity: "rejection", group: a.step, subject: row(a.step, a.key), differences: ds, position: at(["expect", "rejected", order[e]!.i]) }, `${row(a.step, a.key)} is rejected for another reason: ${showDifferences(ds)}`)
    }
    for (const e of m.missing) {
      const x = expected[e]!
      push({ kind: "missing", entity: "rejection", group: x.step, subject: row(x.step, x.key), differences: [], position: at(["expect", "rejected", order[e]!.i]) }, `${row(x.step, x.key)} is not rejected${x.reason === undefined ? "" : ` (expected: ${x.reason})`}`)
    }
    for (const a of m.unexpected) {
      push({ kind: "unexpected", entity: "rejection", group: a.step, subject: row(a.step, a.key), differences: [], position: at(["expect", "rejected"], "key") }, `unexpected rejection of ${row(a.step, a.key)} by ${a.unit}: ${a.reason}`)
    }
  }
  return failures
}
