/**
 * Bulk loading into Postgres with `COPY ... FROM STDIN` (pg-copy-streams).
 *
 * Standalone on purpose: it depends on `pg` and `pg-copy-streams` only, so tools
 * (the fixture generator) and the connector can both use it. Rows are encoded
 * in COPY text format (default) or CSV, batched into ~64 KiB chunks, and written
 * with back-pressure, so an async generator of millions of rows streams in
 * constant memory.
 */
import { once } from "node:events"
import { finished } from "node:stream/promises"
import pg from "pg"
import { from as copyFrom } from "pg-copy-streams"
import { quoteIdent, quoteQualified } from "./Identifier.ts"

/** A value COPY can encode. Arrays of numbers become pgvector / array literals (`[1,2,3]`). */
export type CopyValue =
  | string
  | number
  | bigint
  | boolean
  | Date
  | Uint8Array
  | Float32Array
  | Float64Array
  | ReadonlyArray<number>
  | null
  | undefined
  | { readonly [key: string]: unknown }

export type CopyRow = ReadonlyArray<CopyValue>

export type CopyFormat = "text" | "csv"

export interface CopyOptions {
  /** COPY wire format; `text` (default) is the fastest for Postgres to parse. */
  readonly format?: CopyFormat
  /** `COPY ... FREEZE`: only valid when the table was created or truncated in the current transaction. */
  readonly freeze?: boolean
  /** Bytes of encoded rows gathered before one write to the socket (default 64 KiB). */
  readonly chunkBytes?: number
}

/** A connected client (`pg.Client` or a pooled client) or a DSN to open (and close) a client for the call. */
export type CopyTarget = pg.ClientBase | string

// ---------------------------------------------------------------------------
// Encoding

const TEXT_SPECIAL = /[\\\n\r\t]/
const TEXT_SPECIAL_G = /[\\\n\r\t]/g
const TEXT_ESCAPES: Readonly<Record<string, string>> = { "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t" }

const CSV_NEEDS_QUOTES = /[",\r\n\\]/

const hex = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex")

const numberLiteral = (n: number): string => {
  if (Number.isFinite(n)) return String(n)
  if (Number.isNaN(n)) return "NaN"
  return n > 0 ? "Infinity" : "-Infinity"
}

const vectorLiteral = (values: ArrayLike<number>): string => {
  let out = "["
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ","
    out += numberLiteral(values[i] as number)
  }
  return out + "]"
}

/** The value as Postgres input text, before any COPY-format escaping; `null` for SQL NULL. */
export const toPgText = (value: CopyValue): string | null => {
  if (value === null || value === undefined) return null
  switch (typeof value) {
    case "string":
      if (value.includes("\u0000")) throw new Error("COPY value contains a NUL character, which Postgres text cannot store")
      return value
    case "number":
      return numberLiteral(value)
    case "bigint":
      return value.toString()
    case "boolean":
      return value ? "t" : "f"
    default:
      break
  }
  if (value instanceof Date) return value.toISOString()
  if (value instanceof Float32Array || value instanceof Float64Array) return vectorLiteral(value)
  if (value instanceof Uint8Array) return "\\x" + hex(value)
  if (Array.isArray(value)) return vectorLiteral(value as ReadonlyArray<number>)
  return JSON.stringify(value)
}

/** One field in COPY text format: `\N` for NULL; backslash, newline, carriage return and tab escaped. */
export const encodeTextField = (value: CopyValue): string => {
  const text = toPgText(value)
  if (text === null) return "\\N"
  return TEXT_SPECIAL.test(text) ? text.replace(TEXT_SPECIAL_G, (c) => TEXT_ESCAPES[c] as string) : text
}

/** One row in COPY text format, newline-terminated. */
export const encodeTextRow = (row: CopyRow): string => {
  let line = ""
  for (let i = 0; i < row.length; i++) {
    if (i > 0) line += "\t"
    line += encodeTextField(row[i])
  }
  return line + "\n"
}

/** One field in COPY CSV format: NULL is an unquoted empty field, the empty string is `""`. */
export const encodeCsvField = (value: CopyValue): string => {
  const text = toPgText(value)
  if (text === null) return ""
  if (text === "" || CSV_NEEDS_QUOTES.test(text)) return '"' + text.replaceAll('"', '""') + '"'
  return text
}

/** One row in COPY CSV format, newline-terminated. */
export const encodeCsvRow = (row: CopyRow): string => {
  let line = ""
  for (let i = 0; i < row.length; i++) {
    if (i > 0) line += ","
    line += encodeCsvField(row[i])
  }
  return line + "\n"
}

// ---------------------------------------------------------------------------
// SQL helpers

/** The `COPY ... FROM STDIN` statement for the table and columns. */
export const copyStatement = (table: string, columns: ReadonlyArray<string>, options: CopyOptions = {}): string => {
  const format = options.format ?? "text"
  const opts = [`FORMAT ${format}`]
  if (options.freeze === true) opts.push("FREEZE")
  const cols = columns.length > 0 ? ` (${columns.map(quoteIdent).join(", ")})` : ""
  return `COPY ${quoteQualified(table)}${cols} FROM STDIN WITH (${opts.join(", ")})`
}

/** The DSN with its password replaced by `***`, safe to print. */
export const redactDsn = (dsn: string): string => {
  try {
    const url = new URL(dsn)
    if (url.password !== "") url.password = "***"
    for (const key of ["password", "sslpassword"]) if (url.searchParams.has(key)) url.searchParams.set(key, "***")
    return url.toString()
  } catch {
    // key=value form
    return dsn.replace(/(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)/gi, "$1***")
  }
}

/** Opens a client on the DSN. Connection errors are rethrown without the DSN's password. */
export const connect = async (dsn: string, config: Omit<pg.ClientConfig, "connectionString"> = {}): Promise<pg.Client> => {
  const client = new pg.Client({ ...config, connectionString: dsn })
  // An idle client whose server goes away emits 'error'; without a listener that kills the process.
  client.on("error", () => {})
  try {
    await client.connect()
  } catch (error) {
    await client.end().catch(() => {})
    const message = error instanceof Error ? error.message : String(error)
    throw new Error(`cannot connect to Postgres at ${redactDsn(dsn)}: ${message.split(dsn).join(redactDsn(dsn))}`)
  }
  return client
}

/** Runs `f` with a fresh client on the DSN and always closes it. */
export const withClient = async <A>(dsn: string, f: (client: pg.Client) => Promise<A>): Promise<A> => {
  const client = await connect(dsn)
  try {
    return await f(client)
  } finally {
    await client.end().catch(() => {})
  }
}

/** Runs one or more `;`-separated statements with no parameters (simple query protocol). */
export const exec = async (client: pg.ClientBase, sql: string): Promise<void> => {
  await client.query(sql)
}

/** Runs a parameterised query and returns its rows. */
export const queryRows = async <R extends Record<string, unknown> = Record<string, unknown>>(
  client: pg.ClientBase,
  sql: string,
  params: ReadonlyArray<unknown> = []
): Promise<ReadonlyArray<R>> => {
  const result = await client.query<R>(sql, params as unknown[])
  return result.rows
}

// ---------------------------------------------------------------------------
// COPY

/** An open `COPY ... FROM STDIN`: push rows, then `end` (commit the COPY) or `abort` (CopyFail). */
export interface CopyWriter {
  readonly statement: string
  /**
   * Encodes and buffers one row. Returns a promise when the caller must wait for the socket
   * to drain (back-pressure), otherwise `undefined` — so hot loops only await when needed:
   * `const wait = writer.push(row); if (wait) await wait`.
   */
  readonly push: (row: CopyRow) => Promise<void> | undefined
  /** Buffers pre-encoded data (whole lines in the statement's format); same back-pressure contract as `push`. */
  readonly pushEncoded: (data: string) => Promise<void> | undefined
  /** Flushes and completes the COPY; resolves to the number of rows Postgres loaded. */
  readonly end: () => Promise<number>
  /** Aborts the COPY with a CopyFail: nothing is loaded. Never rejects. */
  readonly abort: (reason?: unknown) => Promise<void>
}

/** Starts `COPY table (columns) FROM STDIN` on the client. */
export const openCopy = (
  client: pg.ClientBase,
  table: string,
  columns: ReadonlyArray<string>,
  options: CopyOptions = {}
): CopyWriter => {
  const statement = copyStatement(table, columns, options)
  const encode = (options.format ?? "text") === "csv" ? encodeCsvRow : encodeTextRow
  const limit = options.chunkBytes ?? 64 * 1024
  const width = columns.length
  const stream = client.query(copyFrom(statement))
  const done = finished(stream)
  done.catch(() => {}) // observed in end/abort; avoids an unhandled rejection while rows are still being pushed
  let buffer = ""
  let closed = false

  // Errors keep their class and fields (a pg DatabaseError keeps `code`, `detail`, ...); the message names the table.
  const prefix = `COPY into ${table}: `
  const withContext = (error: unknown): Error => {
    const e = error instanceof Error ? error : new Error(String(error))
    if (!e.message.startsWith(prefix)) {
      const lost = (e as { code?: unknown }).code === "EPIPE" || (e as { code?: unknown }).code === "ECONNRESET"
      e.message = prefix + (lost ? `connection to Postgres lost (${e.message})` : e.message)
    }
    return e
  }
  const flush = (): Promise<void> | undefined => {
    const data = buffer
    buffer = ""
    if (stream.errored !== null) return Promise.reject(withContext(stream.errored))
    if (stream.write(data)) return undefined
    return once(stream, "drain").then(
      () => undefined,
      (error: unknown) => Promise.reject(withContext(error))
    )
  }
  const pushEncoded = (data: string): Promise<void> | undefined => {
    if (closed) throw new Error(`COPY into ${table} is already finished`)
    buffer += data
    return buffer.length >= limit ? flush() : undefined
  }
  const push = (row: CopyRow): Promise<void> | undefined => {
    if (width > 0 && row.length !== width) {
      throw new Error(`COPY into ${table}: row has ${row.length} values, expected ${width} (${columns.join(", ")})`)
    }
    return pushEncoded(encode(row))
  }
  const end = async (): Promise<number> => {
    if (closed) throw new Error(`COPY into ${table} is already finished`)
    closed = true
    if (buffer.length > 0) stream.end(buffer)
    else stream.end()
    buffer = ""
    await done.catch((error: unknown) => Promise.reject(withContext(error)))
    return stream.rowCount
  }
  const abort = async (reason?: unknown): Promise<void> => {
    if (closed && stream.writableFinished) return
    closed = true
    buffer = ""
    stream.destroy(reason instanceof Error ? reason : new Error(reason === undefined ? "COPY aborted" : String(reason)))
    await done.catch(() => {})
  }
  return { statement, push, pushEncoded, end, abort }
}

const isAsyncIterable = <T>(value: Iterable<T> | AsyncIterable<T>): value is AsyncIterable<T> =>
  typeof (value as Partial<AsyncIterable<T>>)[Symbol.asyncIterator] === "function"

const drive = async <T>(
  writer: CopyWriter,
  source: Iterable<T> | AsyncIterable<T>,
  push: (item: T) => Promise<void> | undefined
): Promise<number> => {
  try {
    if (isAsyncIterable(source)) {
      for await (const item of source) {
        const wait = push(item)
        if (wait !== undefined) await wait
      }
    } else {
      // synchronous sources stay synchronous: no microtask per row
      for (const item of source) {
        const wait = push(item)
        if (wait !== undefined) await wait
      }
    }
  } catch (error) {
    await writer.abort(error)
    throw error
  }
  return writer.end()
}

/**
 * Streams already-encoded COPY data (whole lines, in the statement's format) into the
 * `COPY ... FROM STDIN` statement. Returns the number of rows Postgres reports. When the
 * source throws, the COPY is aborted (CopyFail, nothing is loaded) and the error is rethrown.
 */
export const copyText = async (
  target: CopyTarget,
  table: string,
  columns: ReadonlyArray<string>,
  chunks: Iterable<string> | AsyncIterable<string>,
  options: CopyOptions = {}
): Promise<number> => {
  if (typeof target === "string") return withClient(target, (client) => copyText(client, table, columns, chunks, options))
  const writer = openCopy(target, table, columns, options)
  return drive(writer, chunks, writer.pushEncoded)
}

/**
 * Loads `rows` into `table (columns)` with `COPY ... FROM STDIN`, encoding each value
 * (see {@link CopyValue}) in text (default) or CSV format. Rows may be a lazy iterable or an
 * async iterable; they are consumed with back-pressure in constant memory. `target` is a
 * connected client (the COPY joins its current transaction) or a DSN (a client is opened and
 * closed for the call). Returns the number of rows loaded; on any error nothing is loaded.
 */
export const copyRows = async (
  target: CopyTarget,
  table: string,
  columns: ReadonlyArray<string>,
  rows: Iterable<CopyRow> | AsyncIterable<CopyRow>,
  options: CopyOptions = {}
): Promise<number> => {
  if (typeof target === "string") return withClient(target, (client) => copyRows(client, table, columns, rows, options))
  const writer = openCopy(target, table, columns, options)
  return drive(writer, rows, writer.push)
}
