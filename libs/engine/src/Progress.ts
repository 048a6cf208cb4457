import { Context, Effect } from "effect"

/** Receives progress events; the runner renders them (a live bar on a terminal, lines otherwise). */
export interface ProgressReporter {
  readonly unitStart: (unit: string, total: number | null, alreadyDone: number) => Effect.Effect<void>
  readonly unitAdvance: (unit: string, rows: number) => Effect.Effect<void>
  readonly unitEnd: (unit: string) => Effect.Effect<void>
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
