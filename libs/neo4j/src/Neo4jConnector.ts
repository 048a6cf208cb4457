import { Effect } from "effect"
import type { GraphConnector, GraphConnectorFactory, GraphWriteResult, Lineage, NodeWrite, RelationshipWrite, Row, Value } from "@polymath/engine"
import type { ManagedTransaction } from "neo4j-driver"
import { prepareNodeBatch, prepareRelationshipBatch } from "./Batches.ts"
import { missingEndpointsStatement, nodeMergeStatement, relationshipMergeStatement, uniqueConstraintStatement } from "./Cypher.ts"
import { acquireNeo4jDriver } from "./Neo4jDriver.ts"
import type { Neo4jDriver } from "./Neo4jDriver.ts"
import { fromDriverError, Neo4jError } from "./Neo4jError.ts"
import { fromDriverValue, toDriverParams } from "./Values.ts"

/** How many missing-endpoint rows a result carries for the error message. */
export const missingSampleSize = 5

const empty: GraphWriteResult = { written: 0, skipped: 0, missing: 0, missingSample: [] }

// Pure preparation throws Neo4jError for invalid input; anything else thrown there is a bug.
const prepare = <A>(context: string, f: () => A): Effect.Effect<A, Neo4jError> =>
  Effect.try({ try: f, catch: (cause) => (cause instanceof Neo4jError ? cause : fromDriverError(cause, context)) })

const lineageParam = (lineage: Lineage): Record<string, unknown> => ({
  runId: lineage.runId,
  pipeline: lineage.pipeline,
  extra: toDriverParams(lineage.extra)
})

const driverMap = (m: Readonly<Record<string, Value>>): Record<string, unknown> => toDriverParams(m)

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

  const writeNodes: GraphConnector["writeNodes"] = (write: NodeWrite, rows: ReadonlyArray<Row>, lineage: Lineage) =>
    Effect.gen(function*() {
      if (rows.length === 0) return empty
      const context = `${name}: writing ${rows.length} ${write.label} nodes`
      const groups = yield* prepare(context, () => prepareNodeBatch(write, rows))
      const lineageExtra = Object.keys(lineage.extra)
      const statements = yield* prepare(context, () =>
        groups.map((group) => ({
          text: nodeMergeStatement({
            label: write.label,
            key: write.key.map((k) => k.property),
            properties: write.properties.map((p) => p.property),
            extraLabel: group.extraLabel,
            lineageExtra
          }),
          params: { rows: group.rows.map(driverMap), lineage: lineageParam(lineage) }
        })))
      // Every label group of the batch goes into the same transaction, so a batch is all or nothing.
      const created = yield* driver.write(context, async (tx: ManagedTransaction) => {
        let total = 0
        for (const s of statements) {
          const result = await tx.run(s.text, s.params)
          total += result.summary.counters.updates().nodesCreated
        }
        return total
      })
      return { written: created, skipped: rows.length - created, missing: 0, missingSample: [] }
    })

  const writeRelationships: GraphConnector["writeRelationships"] = (write: RelationshipWrite, rows: ReadonlyArray<Row>, lineage: Lineage) =>
    Effect.gen(function*() {
      if (rows.length === 0) return empty
      const context = `${name}: writing ${rows.length} ${write.type} relationships`
      const entries = yield* prepare(context, () => prepareRelationshipBatch(write, rows))
      const shape = {
        type: write.type,
        start: { label: write.start.label, key: write.start.key.map((k) => k.property) },
        end: { label: write.end.label, key: write.end.key.map((k) => k.property) },
        properties: write.properties.map((p) => ({ property: p.property, combine: p.combine })),
        lineageExtra: Object.keys(lineage.extra)
      }
      const mergeText = yield* prepare(context, () => relationshipMergeStatement(shape))
      const missingText = yield* prepare(context, () => missingEndpointsStatement(shape))
      const params = {
        rows: entries.map((entry, i) => ({ i: BigInt(i), s: driverMap(entry.s), e: driverMap(entry.e), p: driverMap(entry.p) })),
        lineage: lineageParam(lineage)
      }
      const outcome = yield* driver.write(context, async (tx: ManagedTransaction) => {
        const result = await tx.run(mergeText, params)
        const matched = Number(fromDriverValue(result.records[0]?.get("matched") ?? 0))
        const created = result.summary.counters.updates().relationshipsCreated
        // Only look for the culprits when some rows found no endpoints; the happy path stays one statement.
        const missing = matched < entries.length
          ? (await tx.run(missingText, { rows: params.rows })).records.map((r) => Number(fromDriverValue(r.get("i"))))
          : []
        return { created, missing }
      })
      const missingEntries = outcome.missing.flatMap((i) => {
        const entry = entries[i]
        return entry === undefined ? [] : [entry]
      })
      const missing = missingEntries.reduce((n, entry) => n + entry.count, 0)
      return {
        written: outcome.created,
        skipped: rows.length - missing - outcome.created,
        missing,
        missingSample: missingEntries.slice(0, missingSampleSize).map((entry) => entry.source)
      }
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

  return { name, ensureConstraints, writeNodes, writeRelationships, query }
}
