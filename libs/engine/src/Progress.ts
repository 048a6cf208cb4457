import { Context, Effect } from "effect"

/** How a unit's pass ended, for the renderer's last line about it. */
export type UnitEnding = "done" | "stopped" | "failed" | "interrupted"

/**
 * Receives progress events; the runner renders them (live lines on a terminal, periodic
 * lines otherwise, log events in JSON mode).
 *
 * `total` is what the source holds now (null when unknown). `alreadyDone` is an estimate
 * of the rows a resumed run paged before (0 on a fresh run): the source may have changed
 * since, so a reporter clamps what it shows to `total` and measures rates only from
 * `unitAdvance`. `unitEnd` follows every started unit, also one that fails or is
 * interrupted; a call for a unit that is not running (never started, or ended) is ignored.
 */
export interface ProgressReporter {
  readonly unitStart: (unit: string, total: number | null, alreadyDone: number) => Effect.Effect<void>
  readonly unitAdvance: (unit: string, rows: number) => Effect.Effect<void>
  readonly unitEnd: (unit: string, ending?: UnitEnding) => Effect.Effect<void>
  readonly note: (line: string) => Effect.Effect<void>
}

/** Progress reporting; silent unless the runner provides a reporter. */
export const Progress = Context.Reference<ProgressReporter>("@polymath/engine/Progress", {
  defaultValue: () => ({
    unitStart: () => Effect.void,
    unitAdvance: () => Effect.void,
    unitEnd: () => Effect.void,
    note: () => Effect.void
  })
})
