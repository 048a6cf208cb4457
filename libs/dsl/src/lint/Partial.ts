import type { Diagnostic } from "../Diagnostic.ts"
import { decodeEndpoint } from "../Endpoint.ts"
import type { PipelineSpec } from "../Spec.ts"
import type { LintContext } from "./Checker.ts"

type Lint = (spec: PipelineSpec, ctx: LintContext) => ReadonlyArray<Diagnostic>

const isMap = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === "object" && !Array.isArray(x)

/** On one line: a lint finding next to a schema problem is most likely that problem seen again. */
const sameLine = (a: Diagnostic, b: Diagnostic) =>
  a.position !== null && b.position !== null && a.position.file === b.position.file && a.position.line === b.position.line

/**
 * Endpoints as decoding would give them. One the schema rejected becomes an endpoint of
 * no label: lint's finding there lands where the schema's does, and is dropped with it.
 */
const withDecodedEndpoints = (value: Record<string, unknown>): Record<string, unknown> => {
  const steps = Object.entries(value["steps"] as Record<string, unknown>).map(([name, step]) => {
    const graph = isMap(step) ? step["graph"] : undefined
    if (!isMap(step) || !isMap(graph) || !Array.isArray(graph["relationships"])) return [name, step]
    const relationships = graph["relationships"].map((rel: unknown) =>
      isMap(rel) ? { ...rel, start: decodeEndpoint(rel["start"]) ?? { label: "", key: [] }, end: decodeEndpoint(rel["end"]) ?? { label: "", key: [] } } : rel
    )
    return [name, { ...step, graph: { ...graph, relationships } }]
  })
  return { ...value, steps: Object.fromEntries(steps) }
}

/**
 * Cross-checks a file that failed schema decoding too, so one pass reports both
 * kinds of problem. Lint assumes decoded shapes; where the malformed parts trip
 * it up, its findings are dropped, as are findings on a line the schema already flagged.
 */
export const lintUndecoded = (lint: Lint, value: unknown, ctx: LintContext, schemaProblems: ReadonlyArray<Diagnostic>): ReadonlyArray<Diagnostic> => {
  if (!isMap(value) || !isMap(value["connections"]) || !isMap(value["sources"]) || !isMap(value["steps"])) return []
  try {
    return lint(withDecodedEndpoints(value) as unknown as PipelineSpec, ctx).filter((d) => d.severity === "error" && !schemaProblems.some((s) => sameLine(s, d)))
  } catch {
    return []
  }
}
