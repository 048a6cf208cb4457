import { Effect } from "effect"
import type { ConnectorFailure } from "../ConnectorError.ts"
import { Connectors } from "../Connectors.ts"
import { unitsOf } from "../Plan.ts"
import type { Plan, PlannedSource } from "../Plan.ts"
import type { RunHandle, RunIdentity, RunLedger } from "../RunLedger.ts"
import type { KeysetSource, SourceCursor } from "../SqlConnector.ts"
import { sqlOf } from "./Support.ts"

/** The incremental sources a plan reads, by name. */
const incrementalSources = (plan: Plan): ReadonlyMap<string, PlannedSource> => {
  const out = new Map<string, PlannedSource>()
  for (const u of unitsOf(plan)) {
    const s = u.kind === "embed" ? u.source : u.rawSource
    if (s.incremental !== null) out.set(s.keyset.name, s)
  }
  return out
}

/**
 * The window each incremental source is read in this run: from the high-water mark the
 * last successful run with these params left (or `initial`), to the source's greatest
 * cursor value now, which becomes the next run's mark once this run succeeds. A resumed
 * run reads the window it started with. The lower bound is inclusive: rows that share the
 * mark are read again and found unchanged, rather than missed.
 */
export const cursorWindows = (plan: Plan, run: RunHandle, ledger: RunLedger, identity: RunIdentity): Effect.Effect<ReadonlyMap<string, SourceCursor>, ConnectorFailure, Connectors> =>
  Effect.gen(function*() {
    const connectors = yield* Connectors
    const out = new Map<string, SourceCursor>()
    for (const [name, source] of incrementalSources(plan)) {
      const column = source.incremental!.column
      const recorded = run.resumed ? yield* ledger.cursorWindow(run.runId, name) : null
      if (recorded !== null) {
        out.set(name, { column, from: recorded.from })
        continue
      }
      const from = (yield* ledger.lastCursor(identity, name, source.queryHash)) ?? source.incremental!.initial
      const to = (yield* sqlOf(connectors, source.connection).cursorMax({ ...source.keyset, cursor: { column, from } })) ?? from
      yield* ledger.saveCursorWindow(run.runId, name, source.queryHash, { from, to })
      out.set(name, { column, from })
    }
    return out
  })

/** A unit's source as this run reads it: with its incremental lower bound, if it has one. */
export const effectiveSource = (source: PlannedSource, windows: ReadonlyMap<string, SourceCursor>): KeysetSource => {
  const cursor = windows.get(source.keyset.name)
  return cursor === undefined ? source.keyset : { ...source.keyset, cursor }
}
