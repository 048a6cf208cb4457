import type { Diagnostic } from "./Diagnostic.ts"
import type { PipelineSpec } from "./Spec.ts"
import { makeChecker } from "./lint/Checker.ts"
import type { LintContext } from "./lint/Checker.ts"
import { lintChecks } from "./lint/Checks.ts"
import { lintUndecoded } from "./lint/Partial.ts"
import { lintSearches } from "./lint/Searches.ts"
import { lintConnections, lintSources, lintUnusedSources } from "./lint/Sources.ts"
import { lintSteps } from "./lint/Steps.ts"

export type { LintContext, ModelFacts } from "./lint/Checker.ts"
export { searchGraphConnection } from "./lint/Searches.ts"
export { checkConnection, connectionKinds, ledgerConnection, stepOrder } from "./lint/Topology.ts"

/**
 * Cross-checks that the schema cannot express: references between sections,
 * exactly-one-of choices, cycles, and the model registry. Returns every problem.
 */
export const lint = (spec: PipelineSpec, ctx: LintContext): ReadonlyArray<Diagnostic> => {
  const c = makeChecker(spec, ctx)
  lintConnections(c)
  lintSources(c)
  lintSteps(c)
  lintChecks(c)
  lintSearches(c)
  lintUnusedSources(c)
  return c.out
}

/** `lint` of a document that failed decoding: only its findings the schema's problems do not explain. */
export const lintBestEffort = (value: unknown, ctx: LintContext, schemaProblems: ReadonlyArray<Diagnostic>): ReadonlyArray<Diagnostic> =>
  lintUndecoded(lint, value, ctx, schemaProblems)
