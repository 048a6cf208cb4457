/** The connector's reads for `trace`: nodes by key and the relationships at given nodes, with their scope. */
import { Effect } from "effect"
import type { GraphConnector, Identity, Value } from "@polymath/engine"
import type { ManagedTransaction } from "neo4j-driver"
import { nodeShape, relationshipShape } from "./Cypher.ts"
import type { Neo4jDriver } from "./Neo4jDriver.ts"
import { prepareCypher } from "./Neo4jError.ts"
import type { Neo4jError } from "./Neo4jError.ts"
import { findNodesStatement, relationshipsAtStatement } from "./TraceStatements.ts"
import { identityValueFromDriver, toDriverValue } from "./Values.ts"

/** Tuples per transaction: the lists travel as one parameter, bounded so a large frontier is read in steps. */
const perRead = 1000

export type TraceReads = Pick<GraphConnector, "findNodes" | "relationshipsAt">

const found = (records: ReadonlyArray<{ readonly get: (key: string) => unknown }>) =>
  records.map((r) => ({ identity: identityValueFromDriver(r.get("id")) as Identity, inScope: r.get("inScope") === true }))

const inSteps = <T, A>(items: ReadonlyArray<T>, read: (chunk: ReadonlyArray<T>) => Effect.Effect<ReadonlyArray<A>, Neo4jError>) =>
  Effect.map(
    Effect.forEach(Array.from({ length: Math.ceil(items.length / perRead) }, (_, i) => items.slice(i * perRead, (i + 1) * perRead)), read),
    (parts) => parts.flat()
  )

export const makeTraceReads = (name: string, driver: Neo4jDriver): TraceReads => {
  const findNodes: GraphConnector["findNodes"] = (node, scope, match) =>
    Effect.gen(function*() {
      if (match.length === 0) return []
      const prefix = match[0]!.length
      const context = `${name}: finding ${node.label} nodes by ${node.key.slice(0, prefix).map((k) => k.property).join(", ") || "label"}`
      const text = yield* prepareCypher(context, () => findNodesStatement(nodeShape(node), prefix, scope.property))
      return yield* inSteps(match, (chunk) =>
        driver.read(context, async (tx: ManagedTransaction) => {
          const m = chunk.map((tuple) => tuple.map((candidates) => candidates.map((v: Value) => toDriverValue(v))))
          return found((await tx.run(text, { match: m, scope: scope.value })).records)
        }))
    })

  const relationshipsAt: GraphConnector["relationshipsAt"] = (write, side, nodes, scope) =>
    Effect.gen(function*() {
      if (nodes.length === 0) return []
      const context = `${name}: reading ${write.type} relationships at ${nodes.length} ${side === "start" ? write.start.label : write.end.label} nodes`
      const text = yield* prepareCypher(context, () => relationshipsAtStatement(relationshipShape(write), side, scope.property))
      return yield* inSteps(nodes, (chunk) =>
        driver.read(context, async (tx: ManagedTransaction) =>
          found((await tx.run(text, { ids: chunk.map((id) => id.map((v: Value) => toDriverValue(v))), scope: scope.value })).records)))
    })

  return { findNodes, relationshipsAt }
}
