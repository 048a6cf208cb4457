import { Effect } from "effect"
import { verify } from "@polymath/engine"
import type { CheckResult, Plan, RunReport } from "@polymath/engine"
import { ExitCode, out } from "./Pipeline.ts"
import { renderChecks, renderSummary } from "./Render.ts"

export const checksCode = (results: ReadonlyArray<CheckResult>) => (results.every((r) => r.ok) ? ExitCode.ok : ExitCode.verifyFailed)

/**
 * What ends a run, wherever it ran: the summary, then the checks (unless skipped or
 * only part of the pipeline ran), and the exit code. A failed check outranks rejected
 * rows: both mean "look at this", but only one means "wrong".
 */
export const endRun = (plan: Plan, report: RunReport, options: { readonly verify: boolean; readonly partial: boolean }, onChecks: (results: ReadonlyArray<CheckResult>) => void = () => {}) =>
  Effect.gen(function*() {
    yield* out(renderSummary(plan, report))
    let code: number = ExitCode.ok
    if (options.verify && !options.partial && plan.checks.length > 0) {
      const results = yield* verify(plan)
      onChecks(results)
      yield* out(renderChecks(results))
      code = checksCode(results)
    }
    return code !== ExitCode.ok ? code : report.rejected.count > 0 ? ExitCode.rejectedRows : ExitCode.ok
  })
