import { Effect } from "effect"
import type { GraphConnector, GraphHop } from "@polymath/engine"
import type { ManagedTransaction } from "neo4j-driver"
import { quote } from "./Cypher.ts"
import type { Neo4jDriver } from "./Neo4jDriver.ts"
import { prepareCypher } from "./Neo4jError.ts"
import { fromDriverValue } from "./Values.ts"

/**
 * `MATCH (n:Passage) WHERE EXISTS { (n)-[:MENTIONS]-(m:Method) } AND ... RETURN DISTINCT n.key`:
 * one EXISTS subquery per hop, so a node must have every hop; a hop's property value is a
 * parameter, compared as text so `year=2021` finds an integer property too.
 */
export const relatedKeysStatement = (node: { readonly label: string; readonly key: string }, hops: ReadonlyArray<GraphHop>): { text: string; params: Record<string, string> } => {
  const params: Record<string, string> = {}
  const conditions = hops.map((hop, i) => {
    const match = `(n)-[:${quote(hop.type, "relationship type")}]-(m${i}:${quote(hop.label, "label")})`
    if (hop.property === null) return `EXISTS { ${match} }`
    params[`v${i}`] = hop.property.value
    return `EXISTS { MATCH ${match} WHERE toString(m${i}.${quote(hop.property.name, "property")}) = $v${i} }`
  })
  const key = `n.${quote(node.key, "property")}`
  return { text: `MATCH (n:${quote(node.label, "label")}) WHERE ${[...conditions, `${key} IS NOT NULL`].join(" AND ")} RETURN DISTINCT toString(${key}) AS key`, params }
}

export const makeRelatedKeys = (name: string, driver: Neo4jDriver): GraphConnector["relatedKeys"] => (node, hops) =>
  Effect.gen(function*() {
    const context = `${name}: finding :${node.label} nodes by their relationships`
    const statement = yield* prepareCypher(context, () => relatedKeysStatement(node, hops))
    return yield* driver.read(context, async (tx: ManagedTransaction) => {
      const result = await tx.run(statement.text, statement.params)
      return result.records.map((r) => String(fromDriverValue(r.get("key"))))
    })
  })
