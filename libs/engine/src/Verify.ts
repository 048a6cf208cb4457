import { Effect } from "effect"
import type { ConnectorFailure } from "./ConnectorError.ts"
import { Connectors } from "./Connectors.ts"
import type { Plan, PlannedBound, PlannedCheck, QueryCheck, StoreCheck } from "./Plan.ts"
import { defaultRetry, withRetry } from "./Retry.ts"
import type { Row, Value } from "./Rows.ts"
import { showIdentity } from "./trace/Describe.ts"
import { matchStores } from "./trace/StoreMatch.ts"
import type { OneSided } from "./trace/StoreMatch.ts"

/** The outcome of one verification check. */
export interface CheckResult {
  readonly name: string
  readonly ok: boolean
  /** The measured value (first column of the first row, or the row count). */
  readonly actual: number | null
  /** e.g. "= 973", ">= 1". */
  readonly expected: string
  /** Up to three result rows, to show what the check saw. */
  readonly sample: ReadonlyArray<Row>
  readonly error: string | null
  /** What a store comparison found, one line each (the first differences each way); empty for a query check. */
  readonly details: ReadonlyArray<string>
}

const asNumber = (v: Value | undefined): number | null => {
  if (typeof v === "number") return v
  if (typeof v === "bigint") return Number(v)
  if (typeof v === "string" && v.trim() !== "" && !Number.isNaN(Number(v))) return Number(v)
  if (typeof v === "boolean") return v ? 1 : 0
  return null
}

const symbol = { equals: "=", at_least: ">=", at_most: "<=" } as const

const runQueryCheck = (check: QueryCheck): Effect.Effect<CheckResult, ConnectorFailure, Connectors> =>
  Effect.gen(function*() {
    const connectors = yield* Connectors
    const bound = (b: PlannedBound): Effect.Effect<number, ConnectorFailure> =>
      "value" in b ? Effect.succeed(b.value) : withRetry(connectors.sql.get(b.sourceCount.connection)!.count(b.sourceCount.keyset), defaultRetry, () => Effect.void)
    const query: Effect.Effect<ReadonlyArray<Row>, ConnectorFailure> = check.query.kind === "sql"
      ? connectors.sql.get(check.connection)!.query(check.query.statement)
      : connectors.graph.get(check.connection)!.query(check.query.cypher, check.query.params)
    const rows = yield* withRetry(query, defaultRetry, () => Effect.void)
    const first = rows[0]
    const actual = check.of === "rows" ? rows.length : first ? asNumber(Object.values(first)[0]) : null
    const parts: Array<string> = []
    let ok = actual !== null
    for (const { op, bound: b } of check.bounds) {
      const n = yield* bound(b)
      parts.push(`${symbol[op]} ${n}${"source" in b ? ` (rows of ${b.source})` : ""}`)
      if (actual === null) continue
      if (op === "equals" && actual !== n) ok = false
      if (op === "at_least" && actual < n) ok = false
      if (op === "at_most" && actual > n) ok = false
    }
    return { name: check.name, ok, actual, expected: `${check.of === "rows" ? "rows " : ""}${parts.join(" and ")}`, sample: rows.slice(0, 3), error: null, details: [] } satisfies CheckResult
  })

/** How many differences of each way a failed store comparison lists. */
const shownDifferences = 5

const runStoreCheck = (check: StoreCheck): Effect.Effect<CheckResult, ConnectorFailure, Connectors> =>
  Effect.gen(function*() {
    const connectors = yield* Connectors
    const { unit, scope } = check
    const m = yield* withRetry(
      matchStores(unit, scope, connectors.sql.get(unit.source.connection)!, connectors.graph.get(check.connection)!, shownDifferences),
      defaultRetry,
      () => Effect.void
    )
    const what = unit.write.kind === "nodes" ? `${unit.write.label} nodes` : `${unit.write.type} relationships`
    const details: Array<string> = []
    const list = (title: string, side: OneSided) => {
      if (side.count === 0) return
      details.push(`${title}: ${side.count}${side.count > side.first.length ? ` (the first ${side.first.length})` : ""}`)
      for (const id of side.first) details.push(`  ${showIdentity(unit.write, id)}`)
    }
    list(`in Postgres (${unit.source.keyset.name}), not in the graph`, m.sourceOnly)
    list(`in the graph, not in Postgres (${unit.source.keyset.name})`, m.graphOnly)
    if (m.incomplete > 0) details.push(`${m.incomplete} source rows with a NULL identity column were not compared`)
    return {
      name: check.name,
      ok: m.sourceOnly.count === 0 && m.graphOnly.count === 0,
      actual: m.sourceOnly.count + m.graphOnly.count,
      expected: `0 differences between source ${unit.source.keyset.name} and the ${what} holding ${scope.property}=${String(scope.value)} (${m.both} in both)`,
      sample: [],
      error: null,
      details
    } satisfies CheckResult
  })

const runCheck = (check: PlannedCheck) =>
  (check.kind === "query" ? runQueryCheck(check) : runStoreCheck(check)).pipe(
    Effect.catch((e: ConnectorFailure) => Effect.succeed({ name: check.name, ok: false, actual: null, expected: "", sample: [], error: e.message, details: [] } satisfies CheckResult))
  )

/** Runs every check of the plan; a check that errors counts as failed with its message. */
export const verify = (plan: Plan) => Effect.forEach(plan.checks, runCheck)
