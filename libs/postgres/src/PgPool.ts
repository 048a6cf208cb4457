import { Context, Effect, Layer, Redacted } from "effect"
import type { Scope } from "effect"
import pg from "pg"
import type { CustomTypesConfig } from "pg"
import { toPgError } from "./PgError.ts"
import type { PgError } from "./PgError.ts"

/** Options for opening a pool; the DSN stays redacted everywhere except the driver call. */
export interface PgPoolOptions {
  readonly dsn: Redacted.Redacted<string>
  /** Shown in pg_stat_activity as the application_name. */
  readonly applicationName?: string
  /** Maximum number of connections (default 4: one reader, one writer, the ledger lock and a spare). */
  readonly max?: number
  /** How long to wait for a TCP connection before failing as retryable (default 10 s). */
  readonly connectTimeoutMs?: number
}

const INT2 = 21
const INT4 = 23
const INT8 = 20
const INT2_ARRAY = 1005
const INT4_ARRAY = 1007
const INT8_ARRAY = 1016

type Parser = (value: string) => unknown

// Integers become bigint so that graph writes keep them integers (see the engine's `Value`);
// numeric stays a string (pg's default) and floats stay numbers.
const parseInteger: Parser = (value) => BigInt(value)

const deepBigInt = (u: unknown): unknown =>
  Array.isArray(u) ? u.map(deepBigInt) : u === null ? null : BigInt(u as string | number)

const wrapArray = (oid: number): Parser => {
  const base = pg.types.getTypeParser(oid, "text") as Parser
  return (value) => deepBigInt(base(value))
}

const overrides = new Map<number, Parser>([
  [INT2, parseInteger],
  [INT4, parseInteger],
  [INT8, parseInteger],
  [INT2_ARRAY, wrapArray(INT2_ARRAY)],
  [INT4_ARRAY, wrapArray(INT4_ARRAY)],
  [INT8_ARRAY, wrapArray(INT8_ARRAY)]
])

/** pgvector's text form, `[0.1,-2,3e-05]`, as numbers: a graph property then holds a LIST<FLOAT>, not a 4,700-character string. */
const parseVector: Parser = (value) => JSON.parse(value) as Array<number>

/**
 * Per-pool type parsers: int2/int4/int8 (and their arrays) as bigint, pgvector's vector and
 * halfvec as number arrays (their OIDs differ per database, so the pool learns them when it
 * connects), everything else as pg's defaults. Passed as the pool's `types` option so pg's
 * global parsers, which other libs in the process share, are left alone.
 */
const pgTypeParsers = (vectorOids: ReadonlySet<number>): CustomTypesConfig => ({
  getTypeParser: ((oid: number, format?: "text" | "binary") => {
    const override = format === "binary" ? undefined : overrides.get(oid) ?? (vectorOids.has(oid) ? parseVector : undefined)
    return override ?? pg.types.getTypeParser(oid, format)
  }) as CustomTypesConfig["getTypeParser"]
})

/** Checks connectivity and finds pgvector's types in the same round trip. */
const connectQuery = "SELECT coalesce(array_agg(oid::int), '{}') AS oids FROM pg_type WHERE typname IN ('vector', 'halfvec')"

/**
 * Opens a pg.Pool, checks connectivity (learning pgvector's type OIDs), and ends the pool
 * when the scope closes. Fails with a (retryable when transient) PgError that never shows the DSN.
 */
export const acquirePgPool = (options: PgPoolOptions): Effect.Effect<pg.Pool, PgError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.suspend(() => {
      const vectorOids = new Set<number>()
      const pool = new pg.Pool({
        connectionString: Redacted.value(options.dsn),
        max: options.max ?? 4,
        connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
        idleTimeoutMillis: 30_000,
        keepAlive: true,
        application_name: options.applicationName ?? "polymath-etl",
        types: pgTypeParsers(vectorOids)
      })
      // An idle client whose backend dies emits 'error' on the pool; without a listener
      // Node would crash the process. The pool already discards that client.
      pool.on("error", () => {})
      return Effect.tryPromise({
        try: async () => {
          const result = await pool.query<{ oids: ReadonlyArray<bigint> }>(connectQuery)
          for (const oid of result.rows[0]?.oids ?? []) vectorOids.add(Number(oid))
        },
        catch: (cause) => toPgError(cause, "connecting to Postgres")
      }).pipe(
        Effect.as(pool),
        Effect.tapError(() => Effect.promise(() => pool.end().catch(() => undefined)))
      )
    }),
    (pool) => Effect.promise(() => pool.end().catch(() => undefined))
  )

/** The pool of the current scope, for code that prefers a service to an argument. */
export class PgPool extends Context.Service<PgPool, pg.Pool>()("@polymath/postgres/PgPool") {
  /** A layer that opens the pool and ends it when the layer is released. */
  static readonly layer = (options: PgPoolOptions): Layer.Layer<PgPool, PgError> =>
    Layer.effect(PgPool, acquirePgPool(options))
}

/** Runs one parameterised statement on the pool; `context` names what it was for in errors. */
export const runQuery = (
  pool: pg.Pool | pg.PoolClient,
  context: string,
  text: string,
  params: ReadonlyArray<unknown> = []
): Effect.Effect<pg.QueryResult, PgError> =>
  Effect.tryPromise({
    try: () => pool.query(text, params as Array<unknown>),
    catch: (cause) => toPgError(cause, context)
  })

/**
 * Runs exactly one statement with the extended protocol, which rejects `a; b`. Without
 * parameters pg would use the simple protocol, where a pipeline's text could smuggle a
 * `COMMIT; DELETE ...` past a read-only transaction or out of a subquery.
 */
export const runSingleStatement = (
  client: pg.Pool | pg.PoolClient,
  context: string,
  text: string,
  params: ReadonlyArray<unknown> = []
): Effect.Effect<pg.QueryResult, PgError> =>
  Effect.tryPromise({
    // `queryMode` is a pg option that @types/pg does not declare yet.
    try: () => client.query({ text, values: params as Array<unknown>, queryMode: "extended" } as pg.QueryConfig),
    catch: (cause) => toPgError(cause, context)
  })

/**
 * A client checked out of the pool for the scope's lifetime. On release it runs `cleanup`
 * (e.g. `ROLLBACK`) and gives the client back; a client whose connection failed (or whose
 * cleanup failed) is destroyed instead. A no-op 'error' listener guards the checkout: pg
 * emits 'error' on a checked-out client when its socket dies, and an unheard 'error'
 * would crash Node.
 */
export const checkedOutClient = (pool: pg.Pool, context: string, cleanup?: string): Effect.Effect<pg.PoolClient, PgError, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          const client = await pool.connect()
          const state = { broken: false, onError: () => void (state.broken = true) }
          client.on("error", state.onError)
          return { client, state }
        },
        catch: (cause) => toPgError(cause, context)
      }),
      ({ client, state }) =>
        Effect.promise(async () => {
          let failure: Error | boolean = state.broken
          if (!state.broken && cleanup !== undefined) {
            failure = await client.query(cleanup).then(() => false, (e: unknown) => (e instanceof Error ? e : true))
          }
          client.off("error", state.onError)
          client.release(failure === false ? undefined : failure)
        })
    ),
    ({ client }) => client
  )

/** Checks a client out of the pool for `use` and always gives it back (see `checkedOutClient`). */
export const withPoolClient = <A, E>(
  pool: pg.Pool,
  context: string,
  use: (client: pg.PoolClient) => Effect.Effect<A, E>,
  cleanup?: string
): Effect.Effect<A, E | PgError> => Effect.scoped(Effect.flatMap(checkedOutClient(pool, context, cleanup), use))

/** A byte array as pg sends bytea (a Buffer over the same memory, so a subarray keeps its offset). */
export const bytea = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
