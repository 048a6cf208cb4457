/**
 * The Neo4j implementation of the engine's `GraphConnector`: a verified driver, the
 * schema and identity statements, and the write and scope paths of their own modules.
 */
import { Effect } from "effect"
import type { GraphConnector, GraphConnectorFactory, Value } from "@polymath/engine"
import type { ManagedTransaction } from "neo4j-driver"
import { makeWriteNodes, makeWriteRelationships, UniqueKeys } from "./GraphWrites.ts"
import { acquireNeo4jDriver } from "./Neo4jDriver.ts"
import type { Neo4jDriver } from "./Neo4jDriver.ts"
import { prepareCypher } from "./Neo4jError.ts"
import { makeRelatedKeys } from "./RelatedKeys.ts"
import { databaseInfoStatement, uniqueConstraintStatement, vectorIndexStatement } from "./SchemaStatements.ts"
import { makeScopeSweeps } from "./ScopeSweeps.ts"
import { makeTraceReads } from "./TraceReads.ts"
import { fromDriverValue, toDriverParams } from "./Values.ts"

/** Opens a Neo4j graph connector; the driver is verified before it is returned and closed with the scope. */
export const makeNeo4jConnector: GraphConnectorFactory = (options) =>
  Effect.map(
    acquireNeo4jDriver({ uri: options.uri, user: options.user, password: options.password, database: options.database }),
    (driver) => makeConnector(options.name, driver)
  )

const makeConnector = (name: string, driver: Neo4jDriver): GraphConnector => {
  // The node keys this connector has made (or found) unique; relationship writes between them count rows more cheaply.
  const unique = new UniqueKeys()
  const ensureConstraints: GraphConnector["ensureConstraints"] = (nodes) =>
    Effect.gen(function*() {
      const seen = new Set<string>()
      for (const node of nodes) {
        const context = `${name}: creating uniqueness constraint on ${node.label}(${node.key.join(", ")})`
        const statement = yield* prepareCypher(context, () => uniqueConstraintStatement(node.label, node.key))
        if (seen.has(statement)) continue
        seen.add(statement)
        // Schema commands may not share a transaction with anything else, so one auto-commit run each.
        yield* driver.run(context, statement)
        unique.add(node.label, node.key)
      }
    })

  const ensureVectorIndexes: GraphConnector["ensureVectorIndexes"] = (indexes) =>
    Effect.forEach(indexes, (index) =>
      Effect.gen(function*() {
        const context = `${name}: creating vector index on ${index.label}(${index.property})`
        yield* driver.run(context, yield* prepareCypher(context, () => vectorIndexStatement(index)))
      }), { discard: true })

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

  return {
    name,
    ensureConstraints,
    ensureVectorIndexes,
    writeNodes: makeWriteNodes(name, driver),
    writeRelationships: makeWriteRelationships(name, driver, unique),
    ...makeScopeSweeps(name, driver),
    ...makeTraceReads(name, driver),
    fingerprint,
    query,
    relatedKeys: makeRelatedKeys(name, driver)
  }
}
