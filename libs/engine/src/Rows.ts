/**
 * The data that flows between connectors. A source yields pages of rows in key
 * order; the last key of a page is the checkpoint that a resumed run starts after.
 */

/** One value from a source row. Integer columns arrive as `bigint` so that graph writes keep them integers. */
export type Value = string | number | bigint | boolean | null | Date | ReadonlyArray<Value> | { readonly [k: string]: Value }

/** One source row, keyed by column name. */
export type Row = Readonly<Record<string, Value>>

/** The values of a row's keyset columns, in key order; JSON-safe (bigints as strings) so it can be checkpointed. */
export type KeyTuple = ReadonlyArray<string | number | boolean | null>

/** One page of a keyset-paginated source. */
export interface Page {
  readonly rows: ReadonlyArray<Row>
  /** The key of the last row in `rows`, where the next page starts after. */
  readonly lastKey: KeyTuple
  /**
   * On the first page of a pass only, when the reader knows it: how many rows the whole pass
   * yields, this page's included, counted in the snapshot the pass reads (so no separate count
   * has to run the source's query once more).
   */
  readonly passRows?: number
}

/** A row a write could not take, by its index in the batch, and why (for the rejected-rows report). */
export interface Rejection {
  readonly index: number
  readonly reason: string
}

/** Renders a key tuple for messages: `(a, b)`. */
export const formatKey = (key: KeyTuple): string =>
  key.length === 1 ? String(key[0]) : `(${key.map(String).join(", ")})`
