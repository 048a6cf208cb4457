import { Data } from "effect"
import type { LoadedPipeline, ScalarValue } from "@polymath/dsl"
import { searchGraphConnection } from "@polymath/dsl"
import { declaredConnections } from "../plan/Connections.ts"
import type { Plan, PlanConnection } from "../plan/Types.ts"
import type { VectorTarget } from "../VectorStore.ts"

/** A search request the pipeline cannot answer as asked (unknown search, filter column, `--via`): exit 2, nothing queried. */
export class SearchError extends Data.TaggedError("SearchError")<{
  readonly message: string
  readonly hint: string | null
}> {}

/** A declared search, resolved against the plan: what it reads, with which model, and how hits reach the graph. */
export interface SearchPlan {
  readonly pipeline: string
  readonly name: string
  readonly description: string | null
  /** The model of the embed step, whose query prefix the query gets. */
  readonly model: string
  readonly target: VectorTarget
  readonly targetConnection: string
  /** The declared index's metric; cosine when the step declares no index. */
  readonly metric: "cosine" | "l2" | "inner_product"
  readonly columns: ReadonlyArray<string>
  readonly filters: ReadonlyArray<string>
  readonly k: number
  readonly graph: {
    readonly connection: string
    readonly label: string
    readonly keyProperty: string
    readonly expand: string | null
  } | null
  /** The pipeline's params, which the expansion may use besides `$keys`. */
  readonly params: Readonly<Record<string, ScalarValue>>
  /** What the search opens. */
  readonly connections: ReadonlyArray<PlanConnection>
}

/** The searches a pipeline declares, by name. */
export const searchNames = (loaded: LoadedPipeline): ReadonlyArray<string> => Object.keys(loaded.spec.searches ?? {})

/** Resolves the named search; lint has checked its step and connections, so only the name can be wrong. */
export const compileSearch = (loaded: LoadedPipeline, plan: Plan, name: string): SearchPlan | SearchError => {
  const { spec } = loaded
  const search = spec.searches?.[name]
  if (search === undefined) {
    const names = searchNames(loaded)
    return new SearchError({
      message: `pipeline ${spec.pipeline} declares no search '${name}'`,
      hint: names.length > 0 ? `its searches: ${names.join(", ")}` : `declare one under searches: in ${loaded.file} (see pipelines/batch-v1.yaml)`
    })
  }
  const step = plan.steps.find((s) => s.name === search.step)
  if (step === undefined || step.kind !== "embed") throw new Error(`search ${name}: step ${search.step} is not a planned embed step`)
  const unit = step.unit
  const graphConnection = search.graph ? searchGraphConnection(spec, search) : null
  const used = new Set([unit.targetConnection, ...(graphConnection === null ? [] : [graphConnection])])
  return {
    pipeline: spec.pipeline,
    name,
    description: search.description ?? null,
    model: unit.model,
    target: unit.target,
    targetConnection: unit.targetConnection,
    metric: unit.target.index?.metric ?? "cosine",
    columns: search.return ?? [],
    filters: search.filters ?? [],
    k: search.k ?? 10,
    graph: search.graph && graphConnection !== null
      ? { connection: graphConnection, label: search.graph.node.label, keyProperty: search.graph.node.key[0]!.property, expand: search.graph.expand ?? null }
      : null,
    params: loaded.params,
    connections: declaredConnections(spec).filter((c) => used.has(c.name))
  }
}
