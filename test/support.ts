import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { Effect, Redacted } from "effect"
import { acquireNeo4jDriver, makeNeo4jConnector } from "@polymath/neo4j"
import { exec, queryRows, withClient } from "../tools/fixtures/src/pgClient.ts"

/** The database the end-to-end tests own, beside the demo's. */
export const e2eDatabase = "polymath_e2e"

const baseDsn = (): string => {
  const dsn = process.env["POSTGRES_DSN"]
  if (!dsn) throw new Error("POSTGRES_DSN is not set; the vitest global setup starts the stack")
  return dsn
}

/** The stack's DSN with the database swapped for `db`. */
export const dsnFor = (db: string): string => {
  const url = new URL(baseDsn())
  url.pathname = `/${db}`
  return url.toString()
}

/** Drops and recreates a database with pgvector (default: the e2e database). */
export const resetDatabase = async (db: string = e2eDatabase): Promise<void> => {
  await withClient(baseDsn(), async (c) => {
    await exec(c, `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`)
    await exec(c, `CREATE DATABASE ${db}`)
  })
  await withClient(dsnFor(db), (c) => exec(c, "CREATE EXTENSION IF NOT EXISTS vector"))
}

/** Environment for child processes: a database of the stack (default: the e2e one) and the stack's Neo4j. */
export const e2eEnv = (db: string = e2eDatabase): NodeJS.ProcessEnv => ({
  ...process.env,
  POSTGRES_DSN: dsnFor(db),
  // A developer's polymath.local.yaml (from npm run demo) must not change what the tests run.
  POLYMATH_PROFILE: "/dev/null",
  // The runner starts as users start it, from its bundle (the global set-up rebuilds a stale one);
  // a runner that would fall back to its sources fails instead of passing unnoticed.
  POLYMATH_BUNDLE: "require"
})

export interface Exited {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** Starts a command from the repo root with Node 24 on PATH. */
export const start = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = e2eEnv()): { child: ChildProcess; done: Promise<Exited> } => {
  const child = spawn(process.execPath, args, { cwd: process.cwd(), env, stdio: ["ignore", "pipe", "pipe"] })
  let stdout = ""
  let stderr = ""
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()))
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()))
  const done = new Promise<Exited>((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })))
  return { child, done }
}

/** Runs a command to completion. */
export const run = (args: ReadonlyArray<string>, env?: NodeJS.ProcessEnv): Promise<Exited> => start(args, env).done

/** The runner CLI. */
export const runner = (...args: ReadonlyArray<string>): ReadonlyArray<string> => ["apps/runner/src/main.ts", ...args]

/** Loads the scale-1 corpus into the e2e database. */
export const loadFixtures = async (): Promise<void> => {
  const r = await run(["tools/fixtures/src/main.ts", "--scale", "1"])
  if (r.code !== 0) throw new Error(`fixtures failed: ${r.stderr}`)
}

/** One scalar from a database (default: the e2e one). */
export const pgScalar = (sql: string, params: ReadonlyArray<unknown> = [], db: string = e2eDatabase): Promise<number> =>
  withClient(dsnFor(db), async (c) => {
    const rows = await queryRows(c, sql, params as Array<unknown>)
    return Number(Object.values(rows[0] ?? {})[0])
  })

/** Rows from a database (default: the e2e one). */
export const pgRows = (sql: string, params: ReadonlyArray<unknown> = [], db: string = e2eDatabase) =>
  withClient(dsnFor(db), (c) => queryRows(c, sql, params as Array<unknown>))

/** Runs statements on a database (default: the e2e one). */
export const pgExec = (sql: string, params: ReadonlyArray<unknown> = [], db: string = e2eDatabase) =>
  withClient(dsnFor(db), (c) => queryRows(c, sql, params as Array<unknown>))

const neo4jOptions = () => ({
  name: "test",
  uri: process.env["NEO4J_URI"]!,
  user: process.env["NEO4J_USER"] ?? "neo4j",
  password: process.env["NEO4J_PASSWORD"] ? Redacted.make(process.env["NEO4J_PASSWORD"]) : null,
  database: null
})

/** Runs a Cypher query against the stack's Neo4j. */
export const cypher = (query: string, params: Record<string, unknown> = {}) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const graph = yield* makeNeo4jConnector(neo4jOptions())
    return yield* graph.query(query, params as never)
  })))

/** Runs a writing Cypher statement against the stack's Neo4j (to plant a difference the pipeline did not make). */
export const cypherWrite = (query: string, params: Record<string, unknown> = {}): Promise<void> =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const driver = yield* acquireNeo4jDriver(neo4jOptions())
    yield* driver.run("test write", query, params)
  })))

/** One number from Neo4j. */
export const cypherScalar = async (query: string, params: Record<string, unknown> = {}): Promise<number> => {
  const rows = await cypher(query, params)
  return Number(Object.values(rows[0] ?? {})[0])
}

/** Removes the nodes of the given labels (default: what the batch pipelines write) and their relationships. */
export const resetGraph = (labels: ReadonlyArray<string> = ["Paper", "Passage", "Concept"]): Promise<void> =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const driver = yield* acquireNeo4jDriver(neo4jOptions())
    yield* driver.run("reset", "MATCH (n) WHERE any(l IN labels(n) WHERE l IN $labels) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 5000 ROWS", { labels })
  })))

/**
 * Every node of the labels and every relationship between them, with all properties
 * (stamps included), in a stable order: two dumps are equal only when nothing was written.
 */
export const graphDump = async (labels: ReadonlyArray<string>): Promise<string> => {
  const nodes = await cypher(
    "MATCH (n) WHERE any(l IN labels(n) WHERE l IN $labels) RETURN [l IN labels(n) | l] AS labels, properties(n) AS p, elementId(n) AS id",
    { labels } as never
  )
  const rels = await cypher(
    `MATCH (a)-[r]->(b) WHERE any(l IN labels(a) WHERE l IN $labels) AND any(l IN labels(b) WHERE l IN $labels)
     RETURN elementId(a) AS a, type(r) AS t, properties(r) AS p, elementId(r) AS id, elementId(b) AS b`,
    { labels } as never
  )
  const canon = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(canon) : v !== null && typeof v === "object" ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon((v as Record<string, unknown>)[k])])) : typeof v === "bigint" ? `${v}n` : v
  const lines = [...nodes, ...rels].map((r) => JSON.stringify(canon(r)))
  return lines.sort().join("\n")
}
