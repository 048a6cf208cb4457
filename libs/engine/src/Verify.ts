import { Effect } from "effect"
import type { ConnectorFailure } from "./ConnectorError.ts"
import { Connectors } from "./Connectors.ts"
import type { Plan, PlannedBound, PlannedCheck } from "./Plan.ts"
import { defaultRetry, withRetry } from "./Retry.ts"
import type { Row, Value } from "./Rows.ts"

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
}

const asNumber = (v: Value | undefined): number | null => {
  if (typeof v === "number") return v
  if (typeof v === "bigint") return Number(v)
  if (typeof v === "string" && v.trim() !== "" && !Number.isNaN(Number(v))) return Number(v)
  if (typeof v === "boolean") return v ? 1 : 0
  return null
}

const symbol = { equals: "=", at_least: ">=", at_most: "<=" } as const

const runCheck = (check: PlannedCheck) =>
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
    return { name: check.name, ok, actual, expected: `${check.of === "rows" ? "rows " : ""}${parts.join(" and ")}`, sample: rows.slice(0, 3), error: null } satisfies CheckResult
  }).pipe(
    Effect.catch((e: ConnectorFailure) => Effect.succeed({ name: check.name, ok: false, actual: null, expected: "", sample: [], error: e.message } satisfies CheckResult))
  )

/** Runs every check of the plan; a check that errors counts as failed with its message. */
export const verify = (plan: Plan) => Effect.forEach(plan.checks, runCheck)
