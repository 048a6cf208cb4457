import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import * as NodeCrypto from "@effect/platform-node/NodeCrypto"
import { Effect, Layer, Option, Semaphore } from "effect"
import type { Duration } from "effect"
import { ClusterWorkflowEngine, RunnerAddress, ShardingConfig, SqlMessageStorage, SqlRunnerStorage } from "effect/cluster"
import { SqlClient } from "effect/sql/SqlClient"
import { runLayer } from "./Coordinator.ts"
import * as Pipelines from "./Pipelines.ts"
import { rangesLayer, WorkerSlots } from "./Ranges.ts"

/** Where a worker listens and how the others reach it. */
export interface Address {
  readonly host: string
  readonly port: number
}

export interface WorkerOptions {
  readonly listen: Address
  /** The address other workers connect to (the listen address unless it is a wildcard). */
  readonly advertise: Address
  /** Ranges this worker runs at once. */
  readonly concurrency: number
}

/** The cluster's tables are `polymath_cluster_*` in the storage database, beside the ledger's schema. */
const prefix = "polymath_cluster"

/**
 * How fast the cluster notices a dead worker and moves its shards: a health check every
 * 2 s rather than Effect's minute, since a pipeline run is waiting. A killed worker's
 * advisory shard locks go with its connection, but its rows in the locks table hold the
 * shards until they expire: a lease of 12 s (Effect's default is 35 s), refreshed every 3 s.
 * A refresh must answer within its interval or the worker gives its shards up by force;
 * this was safe only once inference left the event loop (onnxruntime-node runs a batch on
 * the calling JS thread for a second or more, so libs/embeddings runs it on a thread of its
 * own): with a 2 s refresh and inference on the JS thread, workers stalled for good.
 */
const timings: Partial<ShardingConfig.ShardingConfig["Service"]> = {
  shardsPerGroup: 64,
  runnerHealthCheckInterval: "2 seconds" as Duration.Input,
  refreshAssignmentsInterval: "1 second" as Duration.Input,
  entityMessagePollInterval: "1 second" as Duration.Input,
  shardLockRefreshInterval: "3 seconds" as Duration.Input,
  shardLockExpiration: "12 seconds" as Duration.Input,
  entityTerminationTimeout: "5 seconds" as Duration.Input
}

const sharding = (config: Partial<ShardingConfig.ShardingConfig["Service"]>, clientOnly: boolean) => {
  const shardingConfig = { ...timings, ...config }
  const storage = Layer.mergeAll(
    SqlMessageStorage.layerWith({ prefix }).pipe(Layer.provide(NodeCrypto.layerDigest)),
    Layer.orDie(SqlRunnerStorage.layerWith({ prefix }))
  ).pipe(Layer.provide(ShardingConfig.layer(shardingConfig)))
  return NodeClusterSocket.layer({ storage: "byo", clientOnly, shardingConfig }).pipe(Layer.provideMerge(storage))
}

/**
 * A worker: joins the cluster (runner storage and messages in the given database),
 * hosts the run coordinator and the range workflows on the shards it is assigned, and
 * opens pipelines through the app's `PipelineHost`.
 */
export const workerLayer = <E>(options: WorkerOptions, storage: Layer.Layer<SqlClient, E>) =>
  Layer.mergeAll(runLayer, rangesLayer).pipe(
    Layer.provide(Pipelines.layer),
    Layer.provide(Layer.succeed(WorkerSlots, Semaphore.makeUnsafe(options.concurrency))),
    Layer.provide(ClusterWorkflowEngine.layer),
    Layer.provide(sharding({
      runnerAddress: Option.some(RunnerAddress.make(options.advertise.host, options.advertise.port)),
      runnerListenAddress: Option.some(RunnerAddress.make(options.listen.host, options.listen.port))
    }, false)),
    Layer.provide(storage)
  )

/** What a submitting or following CLI needs: the workflow engine as a client of the cluster, hosting nothing. */
export const clientLayer = <E>(storage: Layer.Layer<SqlClient, E>) =>
  ClusterWorkflowEngine.layer.pipe(
    Layer.provideMerge(sharding({ runnerAddress: Option.none() }, true)),
    Layer.provideMerge(storage)
  )

/**
 * Whether the cluster's storage holds any message for this execution id: a run submitted
 * there has one from its submission on, so an id that has none was never submitted (a typo,
 * another cluster's database) rather than "running".
 */
export const executionKnown = (execution: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    const rows = yield* sql`SELECT 1 FROM ${sql(`${prefix}_messages`)} WHERE entity_id = ${execution} LIMIT 1`
    return rows.length > 0
  })
