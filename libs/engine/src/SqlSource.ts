import type { Effect, Stream } from "effect"
import type { ConnectorFailure } from "./ConnectorError.ts"
import type { KeyTuple, Page, Row, Value } from "./Rows.ts"

/** A SQL statement with `$1..$n` placeholders and their values; data never enters `text`. */
export interface SqlStatement {
  readonly text: string
  readonly params: ReadonlyArray<Value>
}

/** An incremental source reads only rows whose cursor column is at or past the last run's high-water mark. */
export interface SourceCursor {
  readonly column: string
  /** The lower bound (inclusive), as the server rendered it (`max(col)::text`); null reads every row. */
  readonly from: string | null
}

/** A fold rule: the greatest / smallest value, or the value of the first / last row in source key order. */
export type FoldRule = "max" | "min" | "first" | "last"

/**
 * Folds the rows that share one identity into one row before paging: the source read is
 * `GROUP BY identity`, every other column aggregated by its rule. Used when several source
 * rows map to one graph entity, so each entity is written once per pass, deterministically.
 */
export interface SourceFold {
  /** The identity columns; they are the folded source's key. */
  readonly identity: ReadonlyArray<string>
  /** What the folded rows carry besides the identity: `column` folded by `rule`, named `as` (one column may feed several rules). */
  readonly columns: ReadonlyArray<{ readonly column: string; readonly as: string; readonly rule: FoldRule }>
  /** The declared source key, which orders `first` and `last`. */
  readonly sourceKey: ReadonlyArray<string>
}

/** The column a folded page row carries with the number of source rows it stands for. */
export const foldedRowsColumn = "__polymath_rows"

/**
 * A source read by keyset pagination on `key`. Rows whose key (or cursor) is NULL are
 * never in a page: they are counted and listed by `nullKeys`. A key value that occurs
 * twice fails the read (keyset paging would skip rows otherwise).
 */
export interface KeysetSource {
  /** The source's name in the pipeline, used in messages. */
  readonly name: string
  readonly statement: SqlStatement
  readonly key: ReadonlyArray<string>
  /** Rows per page. */
  readonly pageSize: number
  readonly cursor: SourceCursor | null
  /** When set, `key` is `fold.identity` and pages hold folded rows. */
  readonly fold: SourceFold | null
  /**
   * The inclusive upper bound of the keys read, for one range of a source split across
   * workers (the lower bound is the `after` a pass starts from); absent: to the end.
   */
  readonly through?: KeyTuple | null
}

/** What a source's query returns, from a zero-row execution. */
export interface SourceDescription {
  readonly columns: ReadonlyArray<string>
}

/** Rows of a source whose key (or cursor) has a NULL, which keyset pages leave out. */
export interface NullKeyRows {
  readonly count: number
  /** Up to `limit` of them, all columns. */
  readonly rows: ReadonlyArray<Row>
}

/** A key value that occurs more than once in a source. */
export interface DuplicateKey {
  readonly key: KeyTuple
  readonly count: number
}

/** The source role of a SQL connection: what a unit reads, page by page, and what preflight asks first. */
export interface SourceReader {
  /** Runs the statement without returning rows and reports the result's column names. */
  readonly describe: (statement: SqlStatement) => Effect.Effect<SourceDescription, ConnectorFailure>
  /** Number of rows the source's pages will yield (non-null keys, at or past the cursor). */
  readonly count: (source: KeysetSource) => Effect.Effect<number, ConnectorFailure>
  /** Rows the pages leave out because a key (or cursor) column is NULL: their count and up to `limit` of them. */
  readonly nullKeys: (source: KeysetSource, limit: number) => Effect.Effect<NullKeyRows, ConnectorFailure>
  /** Up to `limit` key values that occur more than once (a full pass over the source). */
  readonly duplicateKeys: (source: KeysetSource, limit: number) => Effect.Effect<ReadonlyArray<DuplicateKey>, ConnectorFailure>
  /** The source's greatest cursor value as the server renders it (`max(col)::text`), null when it has no rows. */
  readonly cursorMax: (source: KeysetSource) => Effect.Effect<string | null, ConnectorFailure>
  /**
   * Up to `parts - 1` keys that cut the source's rows (as pages yield them) into `parts`
   * ranges of nearly equal size, in key order: range i holds the keys after cut i-1 up to
   * and including cut i. Fewer cuts when the source has fewer rows than parts.
   */
  readonly splitPoints: (source: KeysetSource, parts: number) => Effect.Effect<ReadonlyArray<KeyTuple>, ConnectorFailure>
  /** Pages of the source in key order, starting after `after` (null: from the start). Fails with a BadData reason (detail "DuplicateKey") on a repeated key. */
  readonly pages: (source: KeysetSource, after: KeyTuple | null) => Stream.Stream<Page, ConnectorFailure>
}

/** The query role: read-only statements for verification. */
export interface QueryRunner {
  /** Runs a statement in a read-only transaction and returns all its rows; a writing statement fails (reason Unavailable, detail "ReadOnly"). */
  readonly query: (statement: SqlStatement) => Effect.Effect<ReadonlyArray<Row>, ConnectorFailure>
  /**
   * The rows of a statement (a source's query) whose `columns` equal one of `tuples`, read only:
   * what a source yields for given nodes, as `trace` compares it with the graph.
   */
  readonly rowsMatching: (statement: SqlStatement, columns: ReadonlyArray<string>, tuples: ReadonlyArray<ReadonlyArray<Value>>) => Effect.Effect<ReadonlyArray<Row>, ConnectorFailure>
}
