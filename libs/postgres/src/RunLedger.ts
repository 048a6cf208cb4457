import type pg from "pg"
import type { RunLedger } from "@polymath/engine"
import { checkpoint, loadCheckpoints } from "./LedgerCheckpoints.ts"
import { runLabel } from "./LedgerContext.ts"
import { Effect } from "effect"
import type { LedgerContext } from "./LedgerContext.ts"
import { cursorWindow, lastCursor, saveCursorWindow } from "./LedgerCursors.ts"
import { reject, rejected } from "./LedgerRejected.ts"
import { begin, finish, resumable } from "./LedgerRuns.ts"
import { ensureLedgerSchema } from "./LedgerSchema.ts"
import { claimRange } from "./LedgerClaims.ts"
import { markSeen, unseen } from "./LedgerSeen.ts"

/**
 * A RunLedger kept in the `polymath_etl` schema of the given pool's database. Tables are
 * created (or upgraded) on first use. The pipeline lock is a session-level advisory lock
 * on a dedicated connection, so it also disappears when the process is killed and its
 * connection drops.
 */
export const makePgRunLedger = (pool: pg.Pool): RunLedger => {
  const ctx: LedgerContext = { pool, ensureSchema: ensureLedgerSchema(pool), locks: new Map() }
  return {
    resumable: (identity) => resumable(ctx, identity),
    begin: (identity, options) => begin(ctx, identity, options),
    checkpoints: (runId) => Effect.andThen(ctx.ensureSchema, loadCheckpoints(pool, `reading the checkpoints of ${runLabel(runId)}`, runId)),
    checkpoint: (runId, cp) => checkpoint(ctx, runId, cp),
    finish: (runId, status, error) => finish(ctx, runId, status, error),
    reject: (runId, rows) => reject(ctx, runId, rows),
    rejected: (runId, limit) => rejected(ctx, runId, limit),
    markSeen: (runId, unit, ids) => markSeen(ctx, runId, unit, ids),
    unseen: (runId, units, ids) => unseen(ctx, runId, units, ids),
    claimRange: (runId, scope, count, claim) => claimRange(ctx, runId, scope, count, claim),
    lastCursor: (identity, source, queryHash) => lastCursor(ctx, identity, source, queryHash),
    cursorWindow: (runId, source) => cursorWindow(ctx, runId, source),
    saveCursorWindow: (runId, source, queryHash, window) => saveCursorWindow(ctx, runId, source, queryHash, window)
  }
}
