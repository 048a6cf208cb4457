import { Effect } from "effect"
import type { ConnectorFailure } from "../ConnectorError.ts"
import type { GraphConnector, GraphWriteResult, Stamp } from "../GraphConnector.ts"
import { identityHash } from "../Identity.ts"
import type { GraphUnit, RowPolicy } from "../Plan.ts"
import { withRetry } from "../Retry.ts"
import type { RetryPolicy } from "../Retry.ts"
import type { Row } from "../Rows.ts"
import type { RunLedger } from "../RunLedger.ts"
import { foldedRowsColumn } from "../SqlConnector.ts"
import { badRowsError } from "./Support.ts"
import type { BadRow } from "./Support.ts"
import type { PageWork } from "./UnitRunner.ts"

/** A page checked for writing: rows whose identity is complete, and the rest as bad rows. */
export interface CheckedPage {
  readonly read: number
  readonly combined: number
  readonly valid: ReadonlyArray<Row>
  readonly bad: ReadonlyArray<BadRow>
}

/** What each identity column is, for messages: `key doc_id of Paper`, `end name of Concept`. */
export const identityRoles = (unit: GraphUnit): ReadonlyMap<string, string> => {
  const roles = new Map<string, string>()
  const w = unit.write
  if (w.kind === "nodes") {
    for (const k of w.key) roles.set(k.column, `key ${k.property} of ${w.label}`)
  } else {
    for (const k of w.start.key) roles.set(k.column, `start ${w.start.label}.${k.property} of ${w.type}`)
    for (const k of w.end.key) if (!roles.has(k.column)) roles.set(k.column, `end ${w.end.label}.${k.property} of ${w.type}`)
    for (const k of w.key) if (!roles.has(k.column)) roles.set(k.column, `key ${k.property} of ${w.type}`)
  }
  return roles
}

/** Why a row cannot be an entity: the first identity column that is NULL, or null when none is. */
export const missingIdentity = (unit: GraphUnit, roles: ReadonlyMap<string, string>, row: Readonly<Record<string, unknown>>): string | null => {
  const column = unit.identity.find((c) => row[c] === null || row[c] === undefined)
  return column === undefined ? null : `column ${column} (${roles.get(column) ?? "identity"}) is NULL`
}

/**
 * A graph unit's work: rows with an incomplete identity are bad rows; the others are
 * MERGEd (all or nothing under `on_error: fail`); a mirroring unit records the identity
 * of every row it reads, so the sweep after the pass knows what the source still yields
 * (`recordSeen`: see Mirror.ts `seenDecisions`; a unit that does not mirror records too when another
 * unit of its sweep group does). `initialLoad`: see InitialLoad.ts.
 */
export const graphWork = (
  unit: GraphUnit,
  rows: RowPolicy,
  policy: RetryPolicy,
  graph: GraphConnector,
  ledger: RunLedger,
  stamp: Stamp,
  recordSeen: boolean,
  initialLoad = false
): PageWork<CheckedPage> => {
  const roles = identityRoles(unit)
  // The initial load (InitialLoad.ts) lasts while every batch is written as one: `held` counts what
  // it created. Pages are committed one after another, so the two need no lock. A failed attempt
  // may still have committed, which leaves `held` unknown: it ends the initial load, and a retry
  // (the same effect run again) MERGEs.
  let loading = initialLoad
  let held = 0
  const write = (valid: ReadonlyArray<Row>): Effect.Effect<GraphWriteResult, ConnectorFailure> =>
    Effect.suspend(() => {
      const options = { atomic: rows.onError === "fail", ...(loading ? { initialLoad: { held } } : {}) }
      const written = unit.kind === "nodes"
        ? graph.writeNodes(unit.write, valid, stamp, options)
        : graph.writeRelationships(unit.write, valid, stamp, options)
      return written.pipe(
        Effect.tap((result) => {
          if (result.initialLoad === true) held += result.created
          else if (loading) {
            loading = false
            return Effect.logInfo(`${unit.unit}: initial load ended (the graph holds relationships of the type that this run did not create, or the endpoints' keys are not unique): MERGE from here on`)
          }
          return Effect.void
        }),
        Effect.tapError(() => Effect.sync(() => void (loading = false)))
      )
    })
  return {
    prepare: (page, context, retried) =>
      Effect.gen(function*() {
        let read = 0
        let combined = 0
        const valid: Array<Row> = []
        const bad: Array<BadRow> = []
        const seen: Array<Uint8Array> = []
        for (const row of page.rows) {
          const stands = unit.folded ? Number(row[foldedRowsColumn] ?? 1) : 1
          read += stands
          combined += stands - 1
          const why = missingIdentity(unit, roles, row)
          if (why !== null) {
            bad.push({ row, reason: why })
            continue
          }
          valid.push(row)
          if (recordSeen) seen.push(identityHash(unit.identity.map((c) => row[c]!)))
        }
        if (bad.length > 0 && rows.onError === "fail") return yield* Effect.fail(badRowsError(context, unit.source.keyset.key, bad))
        // What the source yields does not depend on the write, so it is recorded here, while the
        // previous page is written; a page recorded but not written is read again on resume.
        if (seen.length > 0) yield* withRetry(ledger.markSeen(stamp.runId, unit.unit, seen), policy, () => retried)
        return { read, combined, valid, bad } satisfies CheckedPage
      }),
    commit: (page, context, retried) =>
      Effect.gen(function*() {
        const result = page.valid.length === 0
          ? { created: 0, updated: 0, unchanged: 0, rejected: [], rolledBack: false }
          : yield* withRetry(write(page.valid), policy, () => retried)
        const rejected = result.rejected.map((r) => ({ row: page.valid[r.index]!, reason: r.reason }))
        if (result.rolledBack) return yield* Effect.fail(badRowsError(context, unit.source.keyset.key, [...page.bad, ...rejected]))
        return { read: page.read, created: result.created, updated: result.updated, unchanged: result.unchanged, combined: page.combined, rejected: [...page.bad, ...rejected] }
      })
  }
}
