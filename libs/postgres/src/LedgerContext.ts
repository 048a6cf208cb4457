import type { Effect } from "effect"
import type pg from "pg"
import type { LockHolder } from "./LedgerLock.ts"
import type { PgError } from "./PgError.ts"

/** What the parts of one pool's run ledger share. */
export interface LedgerContext {
  readonly pool: pg.Pool
  /** Creates (or upgrades) the `polymath_etl` tables on first use; free afterwards. */
  readonly ensureSchema: Effect.Effect<void, PgError>
  /**
   * The pipeline lock of each run begun here, by run id: once its connection dies,
   * writing more checkpoints could interleave with a new run that has since taken the lock.
   */
  readonly locks: Map<string, LockHolder>
}

/** `run <id>`, for messages. */
export const runLabel = (runId: string): string => `run ${runId}`
