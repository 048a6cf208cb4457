import { Effect, Stream } from "effect"
import type {
  GraphConnector,
  GraphConnectorFactory,
  GraphWrite,
  GraphWriteResult,
  Identity,
  NodeWrite,
  Rejection,
  RelationshipWrite,
  Row,
  Value
} from "@polymath/engine"
import type { ManagedTransaction, Record as Neo4jRecord } from "neo4j-driver"
import { missingEndpointReason, prepareNodeBatch, prepareRelationshipBatch } from "./Batches.ts"
import type { NodeRowParams, RelationshipRowParams } from "./Batches.ts"
import {
  databaseInfoStatement,
  missingEndpointsStatement,
  nodeCountStatement,
  nodeMergeStatement,
  nodeScanStatement,
  nodeUnscopeStatement,
  orphanDeleteStatement,
  relationshipCountStatement,
  relationshipMergeStatement,
  relationshipScanStatement,
  relationshipUnscopeStatement,
  uniqueConstraintStatement
} from "./Cypher.ts"
import type { NodeShape, RelationshipShape } from "./Cypher.ts"
import { acquireNeo4jDriver } from "./Neo4jDriver.ts"
import type { Neo4jDriver } from "./Neo4jDriver.ts"
import { fromDriverError, invalidInput, Neo4jError } from "./Neo4jError.ts"
import { fromDriverValue, identityValueFromDriver, toDriverParams, toDriverValue } from "./Values.ts"

/** How many identities one `scanScope` chunk carries. */
export const scanChunkSize = 2000

/** How many orphans one `deleteOrphans` transaction deletes at most. */
export const orphanBatchSize = 10_000

const written = (created: number, changed: number, valid: number, rejected: ReadonlyArray<Rejection>): GraphWriteResult => ({
  created,
  updated: changed - created,
  unchanged: valid - changed,
  rejected,
  rolledBack: false
})

const rolledBack = (rejected: ReadonlyArray<Rejection>): GraphWriteResult => ({
  created: 0,
  updated: 0,
  unchanged: 0,
  rejected: [...rejected].sort((a, b) => a.index - b.index),
  rolledBack: true
})

// Thrown inside a managed transaction to roll it back; recognised again outside as the error's cause.
class RollBack {
  readonly rejected: ReadonlyArray<Rejection>
  constructor(rejected: ReadonlyArray<Rejection>) {
    this.rejected = rejected
  }
}

// Pure preparation throws Neo4jError for invalid input; anything else thrown there is a bug.
const prepare = <A>(context: string, f: () => A): Effect.Effect<A, Neo4jError> =>
  Effect.try({ try: f, catch: (cause) => (cause instanceof Neo4jError ? cause : fromDriverError(cause, context)) })

const numberOf = (record: Neo4jRecord | undefined, key: string): number => Number(fromDriverValue(record?.get(key) ?? 0))

const nodeShape = (write: Pick<NodeWrite, "label" | "key">): NodeShape => ({ label: write.label, key: write.key.map((k) => k.property) })

const relationshipShape = (write: RelationshipWrite): RelationshipShape => ({
  type: write.type,
  start: nodeShape(write.start),
  end: nodeShape(write.end),
  key: write.key.map((k) => k.property)
})

const describeWrite = (write: GraphWrite): string => (write.kind === "nodes" ? `${write.label} nodes` : `${write.type} relationships`)

// The driver packs a JS number as a Float and a bigint as an Integer, which is the engine's convention.
const nodeRowParam = (row: NodeRowParams): Record<string, unknown> => ({ i: BigInt(row.i), k: toDriverParams(row.k), p: toDriverParams(row.p) })

const relationshipRowParam = (row: RelationshipRowParams): Record<string, unknown> => ({
  i: BigInt(row.i),
  s: toDriverParams(row.s),
  e: toDriverParams(row.e),
  k: toDriverParams(row.k),
  p: toDriverParams(row.p)
})

const identityLength = (write: GraphWrite): number =>
  write.kind === "nodes" ? write.key.length : write.start.key.length + write.end.key.length + write.key.length

/** Opens a Neo4j graph connector; the driver is verified before it is returned and closed with the scope. */
export const makeNeo4jConnector: GraphConnectorFactory = (options) =>
  Effect.map(
    acquireNeo4jDriver({ uri: options.uri, user: options.user, password: options.password, database: options.database }),
    (driver) => makeConnector(options.name, driver)
  )

const makeConnector = (name: string, driver: Neo4jDriver): GraphConnector => {
  const ensureConstraints: GraphConnector["ensureConstraints"] = (nodes) =>
    Effect.gen(function*() {
      const seen = new Set<string>()
      for (const node of nodes) {
        const context = `${name}: creating uniqueness constraint on ${node.label}(${node.key.join(", ")})`
        const statement = yield* prepare(context, () => uniqueConstraintStatement(node.label, node.key))
        if (seen.has(statement)) continue
        seen.add(statement)
        // Schema commands may not share a transaction with anything else, so one auto-commit run each.
        yield* driver.run(context, statement)
      }
    })

  const writeNodes: GraphConnector["writeNodes"] = (write, rows, stamp, options) =>
    Effect.gen(function*() {
      const context = `${name}: writing ${rows.length} ${write.label} nodes`
      const shape = {
        ...nodeShape(write),
        properties: write.properties.map((p) => p.property),
        scopeProperty: stamp.scope.property
      }
      // Validates the mapping even when no row gets as far as a statement.
      yield* prepare(context, () => nodeMergeStatement({ ...shape, extraLabel: null }))
      const batch = prepareNodeBatch(write, rows)
      if (batch.rejected.length > 0 && options.atomic) return rolledBack(batch.rejected)
      if (batch.valid === 0) return written(0, 0, 0, batch.rejected)
      const statements = yield* prepare(context, () =>
        batch.groups.map((group) => ({
          text: nodeMergeStatement({ ...shape, extraLabel: group.extraLabel }),
          params: { rows: group.rows.map(nodeRowParam), scope: stamp.scope.value, runId: stamp.runId }
        })))
      // Every label group of the batch goes into the same transaction, so a batch is all or nothing.
      const outcome = yield* driver.write(context, async (tx: ManagedTransaction) => {
        let created = 0
        let changed = 0
        for (const s of statements) {
          const result = await tx.run(s.text, s.params)
          created += result.summary.counters.updates().nodesCreated
          changed += numberOf(result.records[0], "changed")
        }
        return { created, changed }
      })
      return written(outcome.created, outcome.changed, batch.valid, batch.rejected)
    })

  const writeRelationships: GraphConnector["writeRelationships"] = (write, rows, stamp, options) =>
    Effect.gen(function*() {
      const context = `${name}: writing ${rows.length} ${write.type} relationships`
      const shape = { ...relationshipShape(write), properties: write.properties.map((p) => p.property), scopeProperty: stamp.scope.property }
      const mergeText = yield* prepare(context, () => relationshipMergeStatement(shape))
      const missingText = yield* prepare(context, () => missingEndpointsStatement(shape))
      const batch = prepareRelationshipBatch(write, rows)
      const params = { rows: batch.rows.map(relationshipRowParam), scope: stamp.scope.value, runId: stamp.runId }

      const findMissing = async (tx: ManagedTransaction): Promise<ReadonlyArray<Rejection>> =>
        (await tx.run(missingText, { rows: params.rows })).records.flatMap((record) => {
          const index = numberOf(record, "i")
          const row: Row | undefined = rows[index]
          return row === undefined
            ? []
            : [{ index, reason: missingEndpointReason(write, row, record.get("hasStart") === true, record.get("hasEnd") === true) }]
        })

      if (batch.rejected.length > 0 && options.atomic) {
        // Nothing is written, but the report names every bad row of the batch, missing endpoints included.
        const missing = batch.rows.length === 0 ? [] : yield* driver.read(context, findMissing)
        return rolledBack([...batch.rejected, ...missing])
      }
      if (batch.rows.length === 0) return written(0, 0, 0, batch.rejected)

      return yield* driver.write(context, async (tx: ManagedTransaction) => {
        const result = await tx.run(mergeText, params)
        const record = result.records[0]
        const matched = numberOf(record, "matched")
        // Only look for the culprits when some rows found no endpoints; the happy path stays one statement.
        const missing = matched < batch.rows.length ? await findMissing(tx) : []
        if (missing.length > 0 && options.atomic) throw new RollBack(missing)
        const created = result.summary.counters.updates().relationshipsCreated
        const rejected = [...batch.rejected, ...missing].sort((a, b) => a.index - b.index)
        return written(created, numberOf(record, "changed"), matched, rejected)
      }).pipe(
        Effect.catchIf(
          (error) => error.cause instanceof RollBack,
          (error) => Effect.succeed(rolledBack((error.cause as RollBack).rejected))
        )
      )
    })

  const scanScope: GraphConnector["scanScope"] = (write, scope) => {
    const context = `${name}: scanning ${describeWrite(write)} in scope ${scope.property}=${String(scope.value)}`
    return Stream.unwrap(
      Effect.map(
        prepare(context, () =>
          write.kind === "nodes"
            ? nodeScanStatement(nodeShape(write), scope.property)
            : relationshipScanStatement(relationshipShape(write), scope.property)),
        (text) =>
          driver.stream(context, text, { scope: scope.value }, (record) => identityValueFromDriver(record.get("id")) as Identity, scanChunkSize)
      )
    )
  }

  const unscope: GraphConnector["unscope"] = (write, scope, identities) =>
    Effect.gen(function*() {
      const context = `${name}: removing scope ${scope.property}=${String(scope.value)} from ${identities.length} ${describeWrite(write)}`
      const text = yield* prepare(context, () =>
        write.kind === "nodes"
          ? nodeUnscopeStatement(nodeShape(write), scope.property)
          : relationshipUnscopeStatement(relationshipShape(write), scope.property))
      if (identities.length === 0) return { deleted: 0, unscoped: 0 }
      const length = identityLength(write)
      const bad = identities.findIndex((id) => id.length !== length)
      if (bad >= 0) {
        return yield* Effect.fail(invalidInput("InvalidIdentity", `${context}: identity ${bad} has ${identities[bad]?.length} values, expected ${length}`))
      }
      const ids = identities.map((id) => id.map((v: Value) => toDriverValue(v)))
      return yield* driver.write(context, async (tx: ManagedTransaction) => {
        const record = (await tx.run(text, { ids, scope: scope.value })).records[0]
        return { deleted: numberOf(record, "deleted"), unscoped: numberOf(record, "unscoped") }
      })
    })

  const deleteOrphans: GraphConnector["deleteOrphans"] = (write, scope) =>
    Effect.gen(function*() {
      const context = `${name}: deleting orphaned ${write.label} nodes (empty ${scope.property})`
      const text = yield* prepare(context, () => orphanDeleteStatement(write, scope.property))
      // Bounded transactions: a label with very many orphans does not build one huge transaction state.
      let total = 0
      for (;;) {
        const deleted = yield* driver.write(context, async (tx: ManagedTransaction) =>
          numberOf((await tx.run(text, { limit: BigInt(orphanBatchSize) })).records[0], "deleted"))
        total += deleted
        if (deleted < orphanBatchSize) return total
      }
    })

  const countInScope: GraphConnector["countInScope"] = (write, scope) =>
    Effect.gen(function*() {
      const context = `${name}: counting ${describeWrite(write)} in scope ${scope.property}=${String(scope.value)}`
      const text = yield* prepare(context, () =>
        write.kind === "nodes"
          ? nodeCountStatement(write, scope.property)
          : relationshipCountStatement(relationshipShape(write), scope.property))
      return yield* driver.read(context, async (tx: ManagedTransaction) =>
        numberOf((await tx.run(text, { scope: scope.value })).records[0], "count"))
    })

  const fingerprint: GraphConnector["fingerprint"] = driver.read(`${name}: reading the database identity`, async (tx: ManagedTransaction) => {
    const record = (await tx.run(databaseInfoStatement)).records[0]
    const field = (key: string): string => String(fromDriverValue(record?.get(key) ?? null))
    return `neo4j:${field("name")}:${field("id")}:${field("creationDate")}`
  })

  const query: GraphConnector["query"] = (cypher, params) =>
    driver.read(`${name}: query`, async (tx: ManagedTransaction) => {
      const result = await tx.run(cypher, toDriverParams(params))
      return result.records.map((record) => {
        const row: Record<string, Value> = {}
        for (const key of record.keys) row[String(key)] = fromDriverValue(record.get(key))
        return row
      })
    })

  return { name, ensureConstraints, writeNodes, writeRelationships, scanScope, unscope, deleteOrphans, countInScope, fingerprint, query }
}
