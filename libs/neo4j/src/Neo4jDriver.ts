import { Effect, Redacted, Stream } from "effect"
import type { Scope } from "effect"
import { redactUrl } from "@polymath/engine"
import neo4j from "neo4j-driver"
import type { Driver, ManagedTransaction, Record as Neo4jRecord, Result, SessionMode } from "neo4j-driver"
import { fromDriverError, Neo4jError } from "./Neo4jError.ts"

/** Where and how to connect. */
export interface Neo4jDriverOptions {
  readonly uri: string
  readonly user: string | null
  readonly password: Redacted.Redacted<string> | null
  /** Null uses the server's default database. */
  readonly database: string | null
}

/** An open, verified driver; every transaction runs in its own session. */
export interface Neo4jDriver {
  readonly database: string | null
  /** Runs `work` in one managed write transaction. */
  readonly write: <A>(context: string, work: (tx: ManagedTransaction) => Promise<A>) => Effect.Effect<A, Neo4jError>
  /** Runs `work` in one managed read transaction. */
  readonly read: <A>(context: string, work: (tx: ManagedTransaction) => Promise<A>) => Effect.Effect<A, Neo4jError>
  /**
   * Streams the records of one read statement, mapped by `f`, in arrays of up to `chunkSize`.
   * Records are pulled as the stream is consumed; the session lives as long as the stream.
   */
  readonly stream: <A>(
    context: string,
    cypher: string,
    params: Readonly<Record<string, unknown>>,
    f: (record: Neo4jRecord) => A,
    chunkSize: number
  ) => Stream.Stream<ReadonlyArray<A>, Neo4jError>
  /** Runs one statement outside an explicit transaction (schema commands). */
  readonly run: (context: string, cypher: string, params?: Readonly<Record<string, unknown>>) => Effect.Effect<void, Neo4jError>
  /** Maps a thrown value to a Neo4jError with the password masked. */
  readonly toError: (cause: unknown, context: string) => Neo4jError
}

// The engine retries failed batches with its own backoff; the driver's default 30 s of
// silent in-transaction retries would stack underneath it and hide outages.
const driverConfig = {
  maxTransactionRetryTime: 0,
  connectionTimeout: 15_000,
  connectionAcquisitionTimeout: 30_000,
  userAgent: "polymath-etl"
} as const

/** Opens a driver, verifies connectivity (and authentication) before returning, and closes it with the scope. */
export const acquireNeo4jDriver = (options: Neo4jDriverOptions): Effect.Effect<Neo4jDriver, Neo4jError, Scope.Scope> => {
  const secrets = options.password === null ? [] : [Redacted.value(options.password)]
  const toError = (cause: unknown, context: string): Neo4jError => fromDriverError(cause, context, secrets)
  // A URI may carry credentials (`neo4j://user:pw@host`); messages show it with the password masked.
  const where = `Neo4j at ${redactUrl(options.uri)}`

  const acquire = Effect.tryPromise({
    try: async () => {
      const auth = options.password === null
        ? undefined
        : neo4j.auth.basic(options.user ?? "neo4j", Redacted.value(options.password))
      const driver = neo4j.driver(options.uri, auth, driverConfig)
      try {
        await driver.verifyConnectivity(options.database === null ? {} : { database: options.database })
        return driver
      } catch (error) {
        await driver.close().catch(() => undefined)
        throw error
      }
    },
    catch: (cause) => toError(cause, `connecting to ${where}`)
  })

  return Effect.acquireRelease(acquire, (driver) => Effect.promise(() => driver.close().catch(() => undefined))).pipe(
    Effect.map((driver) => makeHandle(driver, options.database, toError))
  )
}

const makeHandle = (
  driver: Driver,
  database: string | null,
  toError: (cause: unknown, context: string) => Neo4jError
): Neo4jDriver => {
  const open = (mode: SessionMode) => driver.session(database === null ? { defaultAccessMode: mode } : { defaultAccessMode: mode, database })
  const withSession = <A>(mode: SessionMode, context: string, use: (session: ReturnType<Driver["session"]>) => Promise<A>) =>
    Effect.acquireUseRelease(
      Effect.sync(() => open(mode)),
      (session) => Effect.tryPromise({ try: () => use(session), catch: (cause) => toError(cause, context) }),
      (session) => Effect.promise(() => session.close().catch(() => undefined))
    )

  return {
    database,
    write: (context, work) => withSession(neo4j.session.WRITE, context, (session) => session.executeWrite(work)),
    read: (context, work) => withSession(neo4j.session.READ, context, (session) => session.executeRead(work)),
    stream: (context, cypher, params, f, chunkSize) =>
      Stream.unwrap(
        Effect.map(
          Effect.acquireRelease(Effect.sync(() => open(neo4j.session.READ)), (session) => Effect.promise(() => session.close().catch(() => undefined))),
          (session) => Stream.fromAsyncIterable(chunked(session.run(cypher, params), f, chunkSize), (cause) => toError(cause, context))
        )
      ),
    run: (context, cypher, params) =>
      withSession(neo4j.session.WRITE, context, async (session) => {
        await session.run(cypher, params ?? {})
      }),
    toError
  }
}

// One stream element per chunk rather than per record keeps the per-element overhead off large scans.
async function* chunked<A>(result: Result, f: (record: Neo4jRecord) => A, size: number): AsyncGenerator<ReadonlyArray<A>> {
  let chunk: Array<A> = []
  for await (const record of result) {
    chunk.push(f(record))
    if (chunk.length >= size) {
      yield chunk
      chunk = []
    }
  }
  if (chunk.length > 0) yield chunk
}
