import type { Effect, Scope } from "effect"
import type { ConnectorFailure } from "./ConnectorError.ts"
import type { KeyTuple } from "./Rows.ts"

/**
 * Per-unit counters, kept in the ledger so a resumed run reports totals. Every row read
 * is exactly one of created / updated / unchanged / rejected / combined (folded into
 * another row with the same identity); `deleted` counts what mirroring removed.
 */
export interface UnitCounts {
  readonly read: number
  readonly created: number
  readonly updated: number
  readonly unchanged: number
  readonly rejected: number
  readonly combined: number
  readonly deleted: number
  readonly retried: number
}

/** All counters at zero. */
export const zeroCounts: UnitCounts = { read: 0, created: 0, updated: 0, unchanged: 0, rejected: 0, combined: 0, deleted: 0, retried: 0 }

/** The progress of one unit of work (a step's pass over one source), as last committed. */
export interface UnitCheckpoint {
  readonly unit: string
  readonly lastKey: KeyTuple | null
  readonly done: boolean
  readonly counts: UnitCounts
}

/** What identifies a run: a resumed run must match all of it. */
export interface RunIdentity {
  readonly pipeline: string
  readonly specHash: string
  readonly params: Readonly<Record<string, string>>
  readonly model: string | null
}

/** What each connection of a run is (connection name -> fingerprint); checkpoints are trusted only against the same stores. */
export type StoreFingerprints = Readonly<Record<string, string>>

/** The latest unfinished run with an identity, which a new invocation may continue. */
export interface ResumableRun {
  readonly runId: string
  readonly checkpoints: ReadonlyMap<string, UnitCheckpoint>
  /** The stores its checkpoints were written against; null for runs recorded before fingerprints existed. */
  readonly stores: StoreFingerprints | null
}

/** A started (or resumed) run. */
export interface RunHandle {
  readonly runId: string
  /** True when an unfinished earlier run with the same identity is being continued. */
  readonly resumed: boolean
  readonly checkpoints: ReadonlyMap<string, UnitCheckpoint>
}

/** Final status of a run. */
export type RunStatus = "succeeded" | "failed" | "interrupted"

/** A source row a step could not write, recorded so that the run can list it. */
export interface RejectedRow {
  readonly step: string
  readonly unit: string
  readonly source: string
  /** The row's source key (JSON-safe). */
  readonly key: KeyTuple
  readonly reason: string
}

/** The incremental window a run reads for one source: cursor >= from; `to` becomes the next run's `from`. */
export interface CursorWindow {
  readonly from: string | null
  readonly to: string | null
}

/**
 * The run ledger: one row per run and per unit, so that a run that died is continued
 * from its checkpoints by the next invocation with the same identity; plus what a run
 * needs to be exact: rejected rows, the identities a mirroring unit has seen, and the
 * high-water marks of incremental sources.
 */
export interface RunLedger {
  /** The latest run with this identity when it did not succeed (a candidate to resume), else null. */
  readonly resumable: (identity: RunIdentity) => Effect.Effect<ResumableRun | null, ConnectorFailure>
  /**
   * Starts a run, or resumes run `resume` when it is still the latest unfinished one with this
   * identity. Records `stores`. Holds an exclusive lock on the pipeline for the scope's lifetime
   * so two runs of one pipeline never interleave; fails with reason "RunInProgress" when
   * another process holds it.
   */
  readonly begin: (identity: RunIdentity, options: { readonly resume: string | null; readonly stores: StoreFingerprints }) => Effect.Effect<RunHandle, ConnectorFailure, Scope.Scope>
  /** Every unit checkpoint a run has recorded (a distributed run's workers read their ranges' back). */
  readonly checkpoints: (runId: string) => Effect.Effect<ReadonlyMap<string, UnitCheckpoint>, ConnectorFailure>
  /** Records a unit's progress after a batch is durably written. */
  readonly checkpoint: (runId: string, checkpoint: UnitCheckpoint) => Effect.Effect<void, ConnectorFailure>
  /**
   * Marks the run finished. A succeeded run makes its cursor windows the pipeline's
   * high-water marks and drops its seen identities, in the same transaction.
   */
  readonly finish: (runId: string, status: RunStatus, error: string | null) => Effect.Effect<void, ConnectorFailure>
  /** Records rejected rows (idempotent per run, unit and key, so a re-done batch does not double them). */
  readonly reject: (runId: string, rows: ReadonlyArray<RejectedRow>) => Effect.Effect<void, ConnectorFailure>
  /** How many rows the run rejected, and up to `limit` of them in the order they were recorded. */
  readonly rejected: (runId: string, limit: number) => Effect.Effect<{ readonly count: number; readonly rows: ReadonlyArray<RejectedRow> }, ConnectorFailure>
  /** Records identity hashes a mirroring unit has read (idempotent). */
  readonly markSeen: (runId: string, unit: string, ids: ReadonlyArray<Uint8Array>) => Effect.Effect<void, ConnectorFailure>
  /** The positions in `ids` of the hashes none of `units` has marked seen in this run. */
  readonly unseen: (runId: string, units: ReadonlyArray<string>, ids: ReadonlyArray<Uint8Array>) => Effect.Effect<ReadonlyArray<number>, ConnectorFailure>
  /**
   * Claims, for a distributed run, the lowest unclaimed of the ranges 0..count-1 of `scope` under the
   * name `claim` (again the same range when asked again under that name); null when all are taken.
   */
  readonly claimRange: (runId: string, scope: string, count: number, claim: string) => Effect.Effect<number | null, ConnectorFailure>
  /** The high-water mark the last succeeded run with this pipeline and params left for `source`, unless the source's query changed since. */
  readonly lastCursor: (identity: RunIdentity, source: string, queryHash: string) => Effect.Effect<string | null, ConnectorFailure>
  /** The cursor window this run recorded for `source` (so a resumed run reads the same window), or null. */
  readonly cursorWindow: (runId: string, source: string) => Effect.Effect<CursorWindow | null, ConnectorFailure>
  /** Records the window this run reads for `source`. */
  readonly saveCursorWindow: (runId: string, source: string, queryHash: string, window: CursorWindow) => Effect.Effect<void, ConnectorFailure>
}
