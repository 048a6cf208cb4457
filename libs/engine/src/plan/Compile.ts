import { ledgerConnection, stepOrder } from "@polymath/dsl"
import type { LoadedPipeline } from "@polymath/dsl"
import { compileCheck } from "./Checks.ts"
import { declaredConnections, usedConnections } from "./Connections.ts"
import { makeBinder } from "./Sources.ts"
import { compileStep } from "./Steps.ts"
import type { Plan, PlannedUnit } from "./Types.ts"

/**
 * Compiles a linted pipeline into a plan. Pure: nothing connects here. Lint has rejected
 * every spec this cannot compile, so a failure here is a bug and throws.
 */
export const compile = (loaded: LoadedPipeline, options: { readonly force?: boolean } = {}): Plan => {
  const { spec, params } = loaded
  const binder = makeBinder(spec, params)
  const steps = (stepOrder(spec) ?? Object.keys(spec.steps)).map((name) => compileStep(spec, binder, name, { force: options.force ?? false }))
  const checks = (spec.verify ?? []).map((c) => compileCheck(spec, params, binder, steps, c))
  const ledger = ledgerConnection(spec)!
  return {
    pipeline: spec.pipeline,
    specHash: loaded.specHash,
    params,
    ledgerConnection: ledger,
    steps,
    checks,
    models: [...new Set(steps.flatMap((s) => (s.kind === "embed" ? [s.unit.model] : [])))],
    partial: false,
    connections: usedConnections(declaredConnections(spec), { ledgerConnection: ledger, steps, checks })
  }
}

/** The plan restricted to the named steps (`--only`); such a run is partial, never mirrors deletions, and opens only what it uses. */
export const onlySteps = (plan: Plan, names: ReadonlyArray<string>): Plan => {
  const steps = plan.steps.filter((s) => names.includes(s.name)).map((s) => ({ ...s, after: s.after.filter((a) => names.includes(a)) }))
  return { ...plan, partial: true, steps, connections: usedConnections(plan.connections, { ...plan, steps }) }
}

/** Every unit of a plan, in step order. */
export const unitsOf = (plan: Plan): ReadonlyArray<PlannedUnit> =>
  plan.steps.flatMap((s): ReadonlyArray<PlannedUnit> => (s.kind === "embed" ? [s.unit] : s.units))
