import { Context } from "effect"
import type { EmbedderFactory } from "./Embedder.ts"
import type { GraphConnector } from "./GraphConnector.ts"
import type { SqlConnector } from "./SqlConnector.ts"

/**
 * The open connections of one pipeline run, by the names the pipeline gives them.
 * The runner opens them in a scoped layer; the engine only looks them up.
 */
export class Connectors extends Context.Service<Connectors, {
  readonly sql: ReadonlyMap<string, SqlConnector>
  readonly graph: ReadonlyMap<string, GraphConnector>
}>()("@polymath/engine/Connectors") {}

/** The model registry and loader used by embed steps. */
export class Embedders extends Context.Service<Embedders, EmbedderFactory>()("@polymath/engine/Embedders") {}
