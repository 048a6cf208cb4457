/**
 * The connector's write paths: one batch of nodes or relationships in one transaction,
 * counted as created / updated / unchanged, with the rows that cannot be written
 * rejected (or, for an atomic batch, the whole batch rolled back and every bad row named).
 */
import { Effect } from "effect"
import type { GraphConnector, GraphWriteResult, Rejection, Row } from "@polymath/engine"
import type { ManagedTransaction } from "neo4j-driver"
import { missingEndpointReason, prepareNodeBatch, prepareRelationshipBatch } from "./Batches.ts"
import { nodeShape, relationshipShape } from "./Cypher.ts"
import { missingEndpointsStatement, nodeMergeStatement, relationshipCreateStatement, relationshipMergeStatement } from "./MergeStatements.ts"
import type { Neo4jDriver } from "./Neo4jDriver.ts"
import { prepareCypher } from "./Neo4jError.ts"
import { relationshipTypeCountStatement } from "./ScopeStatements.ts"
import { numberOf } from "./Values.ts"

// `created` counts entities, `changed` rows: a row whose endpoint key matches two nodes (no
// uniqueness constraint) creates two relationships, so the difference can fall below 0.
const written = (created: number, changed: number, valid: number, rejected: ReadonlyArray<Rejection>): GraphWriteResult => ({
  created,
  updated: Math.max(0, changed - created),
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

// Thrown inside an initial load's transaction when the graph holds relationships of the type this
// load did not create: the CREATE is rolled back and the batch MERGEd.
class NotAlone {}

// Thrown inside a managed transaction to roll it back; recognised again outside as the error's cause.
class RollBack {
  readonly rejected: ReadonlyArray<Rejection>
  constructor(rejected: ReadonlyArray<Rejection>) {
    this.rejected = rejected
  }
}

/** `writeNodes` of the connector `name`: every label group of a batch in one transaction. */
export const makeWriteNodes = (name: string, driver: Neo4jDriver): GraphConnector["writeNodes"] => (write, rows, stamp, options) =>
  Effect.gen(function*() {
    const context = `${name}: writing ${rows.length} ${write.label} nodes`
    const shape = {
      ...nodeShape(write),
      properties: write.properties.map((p) => p.property),
      scopeProperty: stamp.scope.property
    }
    // Validates the mapping even when no row gets as far as a statement.
    yield* prepareCypher(context, () => nodeMergeStatement({ ...shape, extraLabel: null }))
    const batch = prepareNodeBatch(write, rows)
    if (batch.rejected.length > 0 && options.atomic) return rolledBack(batch.rejected)
    if (batch.valid === 0) return written(0, 0, 0, batch.rejected)
    const statements = yield* prepareCypher(context, () =>
      batch.groups.map((group) => ({
        text: nodeMergeStatement({ ...shape, extraLabel: group.extraLabel }),
        params: { rows: group.rows, scope: stamp.scope.value, runId: stamp.runId }
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

/**
 * Node keys known to be under a uniqueness constraint: those the connector's own
 * `ensureConstraints` created or found (`IF NOT EXISTS` under the name it derives from the
 * label and key). Anything else is not assumed unique.
 */
export class UniqueKeys {
  private readonly keys = new Set<string>()
  private static id(label: string, key: ReadonlyArray<string>): string {
    return JSON.stringify([label, [...key].sort()])
  }
  add(label: string, key: ReadonlyArray<string>): void {
    this.keys.add(UniqueKeys.id(label, key))
  }
  has(label: string, key: ReadonlyArray<string>): boolean {
    return this.keys.has(UniqueKeys.id(label, key))
  }
}

/**
 * `writeRelationships` of the connector `name`: one MERGE statement (or, for an initial load, a
 * CREATE and a count), culprits looked up only when rows found no endpoints.
 */
export const makeWriteRelationships = (name: string, driver: Neo4jDriver, unique: UniqueKeys = new UniqueKeys()): GraphConnector["writeRelationships"] => (write, rows, stamp, options) =>
  Effect.gen(function*() {
    const context = `${name}: writing ${rows.length} ${write.type} relationships`
    const shape = { ...relationshipShape(write), properties: write.properties.map((p) => p.property), scopeProperty: stamp.scope.property }
    const uniqueEndpoints = unique.has(shape.start.label, shape.start.key) && unique.has(shape.end.label, shape.end.key)
    const mergeText = yield* prepareCypher(context, () => relationshipMergeStatement(shape, uniqueEndpoints))
    // CREATE needs endpoints that a row matches at most once, or one row would create several.
    const initialLoad = uniqueEndpoints ? options.initialLoad : undefined
    const createText = initialLoad === undefined ? null : yield* prepareCypher(context, () => relationshipCreateStatement(shape))
    const countText = initialLoad === undefined ? null : yield* prepareCypher(context, () => relationshipTypeCountStatement(write.type))
    const missingText = yield* prepareCypher(context, () => missingEndpointsStatement(shape))
    // `i` only for the statement that counts distinct rows (endpoints whose keys are not unique).
    const batch = prepareRelationshipBatch(write, rows, !uniqueEndpoints)
    const params = { rows: batch.rows, scope: stamp.scope.value, runId: stamp.runId }

    const findMissing = async (tx: ManagedTransaction): Promise<ReadonlyArray<Rejection>> =>
      (await tx.run(missingText, { rows: params.rows })).records.flatMap((record) => {
        // The statement answers with positions in `params.rows`; the report wants indexes in the caller's batch.
        const index = batch.index[numberOf(record, "n")] ?? -1
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
    // Nothing to create: an initial load goes on.
    if (batch.rows.length === 0) return createText === null ? written(0, 0, 0, batch.rejected) : { ...written(0, 0, 0, batch.rejected), initialLoad: true }

    const attempt = (create: boolean) => {
      // The driver calls the function again when an attempt fails, and a failed commit may have
      // committed: only the first attempt may CREATE.
      let attempts = 0
      return driver.write(context, async (tx: ManagedTransaction) => {
        const blind = create && attempts++ === 0
        const result = await tx.run(blind ? createText! : mergeText, params)
        const created = result.summary.counters.updates().relationshipsCreated
        if (blind) {
          // Another writer's relationship of the type could be one this batch has just created
          // again. Counted after the CREATE, which waited for any writer holding a start node (a
          // MERGE there, or another initial load: MergeStatements.ts), so what that writer committed
          // is counted; what one commits later at these nodes waits for this transaction, and a
          // MERGE then finds these relationships.
          const count = numberOf((await tx.run(countText!)).records[0], "count")
          if (count !== initialLoad!.held + created) throw new NotAlone()
        }
        const record = result.records[0]
        const matched = numberOf(record, "matched")
        // Only look for the culprits when some rows found no endpoints; the happy path stays one statement.
        const missing = matched < batch.rows.length ? await findMissing(tx) : []
        if (missing.length > 0 && options.atomic) throw new RollBack(missing)
        const rejected = [...batch.rejected, ...missing].sort((a, b) => a.index - b.index)
        const outcome = written(created, numberOf(record, "changed"), matched, rejected)
        return blind ? { ...outcome, initialLoad: true } : outcome
      })
    }
    return yield* attempt(createText !== null).pipe(
      // Rolled back: the batch is MERGEd instead, and the result says it was no initial load.
      Effect.catchIf((error) => error.cause instanceof NotAlone, () => attempt(false)),
      Effect.catchIf(
        (error) => error.cause instanceof RollBack,
        (error) => Effect.succeed(rolledBack((error.cause as RollBack).rejected))
      )
    )
  })
