/**
 * The connector's scope paths, used by mirroring and checks: stream the identities
 * that hold a scope, remove the scope from given identities, sweep orphaned nodes and
 * count what a scope holds.
 */
import { Effect, Stream } from "effect"
import { Reason } from "@polymath/engine"
import type { GraphConnector, GraphWrite, Identity, Value } from "@polymath/engine"
import type { ManagedTransaction } from "neo4j-driver"
import { nodeShape, relationshipShape } from "./Cypher.ts"
import type { Neo4jDriver } from "./Neo4jDriver.ts"
import { invalidInput, prepareCypher } from "./Neo4jError.ts"
import {
  nodeCountStatement,
  nodeHoldsStatement,
  nodeScanStatement,
  nodeUnscopeStatement,
  orphanDeleteStatement,
  relationshipCountStatement,
  relationshipHoldsStatement,
  relationshipScanStatement,
  relationshipTypeCountStatement,
  relationshipUnscopeStatement
} from "./ScopeStatements.ts"
import { identityValueFromDriver, numberOf, toDriverValue } from "./Values.ts"

/** How many identities one `scanScope` chunk carries. */
export const scanChunkSize = 2000

/** How many orphans one `deleteOrphans` transaction deletes at most. */
export const orphanBatchSize = 10_000

const describeWrite = (write: GraphWrite): string => (write.kind === "nodes" ? `${write.label} nodes` : `${write.type} relationships`)

const identityLength = (write: GraphWrite): number =>
  write.kind === "nodes" ? write.key.length : write.start.key.length + write.end.key.length + write.key.length

/** The scope operations of the connector `name`. */
export type ScopeSweeps = Pick<GraphConnector, "scanScope" | "unscope" | "deleteOrphans" | "countInScope" | "holdsScope" | "holdsRelationships">

/** Builds the scope operations of the connector `name` on `driver`. */
export const makeScopeSweeps = (name: string, driver: Neo4jDriver): ScopeSweeps => {
  const scanScope: GraphConnector["scanScope"] = (write, scope) => {
    const context = `${name}: scanning ${describeWrite(write)} in scope ${scope.property}=${String(scope.value)}`
    return Stream.unwrap(
      Effect.map(
        prepareCypher(context, () =>
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
      const text = yield* prepareCypher(context, () =>
        write.kind === "nodes"
          ? nodeUnscopeStatement(nodeShape(write), scope.property)
          : relationshipUnscopeStatement(relationshipShape(write), scope.property))
      if (identities.length === 0) return { deleted: 0, unscoped: 0 }
      const length = identityLength(write)
      const bad = identities.findIndex((id) => id.length !== length)
      if (bad >= 0) {
        return yield* Effect.fail(invalidInput(
          new Reason.BadData({ detail: "InvalidIdentity" }),
          `${context}: identity ${bad} has ${identities[bad]?.length} values, expected ${length}`
        ))
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
      const text = yield* prepareCypher(context, () => orphanDeleteStatement(write, scope.property))
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
      const text = yield* prepareCypher(context, () =>
        write.kind === "nodes"
          ? nodeCountStatement(write, scope.property)
          : relationshipCountStatement(relationshipShape(write), scope.property))
      return yield* driver.read(context, async (tx: ManagedTransaction) =>
        numberOf((await tx.run(text, { scope: scope.value })).records[0], "count"))
    })

  const holdsScope: GraphConnector["holdsScope"] = (write, scope) =>
    Effect.gen(function*() {
      const context = `${name}: looking for ${describeWrite(write)} in scope ${scope.property}=${String(scope.value)}`
      const text = yield* prepareCypher(context, () =>
        write.kind === "nodes"
          ? nodeHoldsStatement(write, scope.property)
          : relationshipHoldsStatement(relationshipShape(write), scope.property))
      return yield* driver.read(context, async (tx: ManagedTransaction) => (await tx.run(text, { scope: scope.value })).records[0]?.get("held") === true)
    })

  const holdsRelationships: GraphConnector["holdsRelationships"] = (type) =>
    Effect.gen(function*() {
      const context = `${name}: counting ${type} relationships`
      const text = yield* prepareCypher(context, () => relationshipTypeCountStatement(type))
      return yield* driver.read(context, async (tx: ManagedTransaction) => numberOf((await tx.run(text)).records[0], "count") > 0)
    })

  return { scanScope, unscope, deleteOrphans, countInScope, holdsScope, holdsRelationships }
}
