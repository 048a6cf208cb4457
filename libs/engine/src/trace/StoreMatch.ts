import { Effect, Stream } from "effect"
import type { ConnectorFailure } from "../ConnectorError.ts"
import type { GraphConnector, Identity, SyncScope } from "../GraphConnector.ts"
import { identityHash } from "../Identity.ts"
import type { GraphUnit } from "../Plan.ts"
import type { SourceReader } from "../SqlSource.ts"

/** One side of a comparison: how many identities only it holds, and the first of them. */
export interface OneSided {
  readonly count: number
  readonly first: ReadonlyArray<Identity>
}

/** A graph unit's source against the graph, identity by identity. */
export interface StoreMatch {
  /** Identities both stores hold. */
  readonly both: number
  /** Yielded by the source now, not in the graph holding the scope. */
  readonly sourceOnly: OneSided
  /** In the graph holding the scope, yielded by no source row. */
  readonly graphOnly: OneSided
  /** Source rows with a NULL identity column: no entity can be made of them, so they are not compared. */
  readonly incomplete: number
}

const hex = (id: Identity): string => Buffer.from(identityHash(id)).toString("hex")

/**
 * Reads the unit's whole source (folded as the run reads it) and every entity of the unit
 * holding `scope`, and compares their identity sets. Memory grows with the source's
 * distinct identities (a hash and the values each), not with its rows.
 */
export const matchStores = (unit: GraphUnit, scope: SyncScope, sql: SourceReader, graph: GraphConnector, keep: number): Effect.Effect<StoreMatch, ConnectorFailure> =>
  Effect.gen(function*() {
    const source = new Map<string, Identity>()
    let incomplete = 0
    yield* sql.pages(unit.source.keyset, null).pipe(
      Stream.runForEach((page) =>
        Effect.sync(() => {
          for (const row of page.rows) {
            const id = unit.identity.map((c) => row[c] ?? null)
            if (id.some((v) => v === null)) incomplete++
            else source.set(hex(id), id)
          }
        })
      )
    )
    let both = 0
    let graphOnly = 0
    const graphFirst: Array<Identity> = []
    yield* graph.scanScope(unit.write, scope).pipe(
      Stream.runForEach((chunk) =>
        Effect.sync(() => {
          for (const id of chunk) {
            const h = hex(id)
            if (source.delete(h)) both++
            else {
              graphOnly++
              if (graphFirst.length < keep) graphFirst.push(id)
            }
          }
        })
      )
    )
    const rest = [...source.values()]
    return { both, incomplete, sourceOnly: { count: rest.length, first: rest.slice(0, keep) }, graphOnly: { count: graphOnly, first: graphFirst } }
  })
