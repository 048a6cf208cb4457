import type { Row, Value } from "../Rows.ts"
import { foldedRowsColumn } from "../SqlConnector.ts"
import type { FoldRule, SourceFold } from "../SqlConnector.ts"
import { compareNullsLast, showValue } from "./Values.ts"

/*
 * The fold a folded source read does in SQL (libs/postgres `foldedSelect`), over rows in
 * memory: one row per identity, each carried column by its rule, and the number of rows
 * it stands for. The ordering is the same: `first` / `last` by the declared source key
 * (NULLs last ascending), `max` / `min` the greatest / smallest non-NULL value, ties
 * going to the first row in key order.
 */

const byKey = (key: ReadonlyArray<string>, direction: 1 | -1) => (a: Row, b: Row): number => {
  for (const k of key) {
    const c = compareNullsLast(a[k], b[k])
    if (c !== 0) return direction * c
  }
  return 0
}

const pickBy = (rows: ReadonlyArray<Row>, column: string, rule: FoldRule, sourceKey: ReadonlyArray<string>): Value => {
  const ascending = byKey(sourceKey, 1)
  const order = rule === "first"
    ? ascending
    : rule === "last"
    ? byKey(sourceKey, -1)
    : (a: Row, b: Row) => {
      const an = a[column] === null || a[column] === undefined
      const bn = b[column] === null || b[column] === undefined
      if (an || bn) return an === bn ? ascending(a, b) : an ? 1 : -1
      const c = compareNullsLast(a[column], b[column])
      return (rule === "max" ? -c : c) || ascending(a, b)
    }
  return [...rows].sort(order)[0]?.[column] ?? null
}

/** Folds rows whose identity has no NULL (the read leaves the others out) into one row per identity, in identity order. */
export const foldRows = (rows: ReadonlyArray<Row>, fold: SourceFold): ReadonlyArray<Row> => {
  const groups = new Map<string, Array<Row>>()
  for (const row of rows) {
    const id = fold.identity.map((c) => showValue(row[c])).join("\u0000")
    const group = groups.get(id)
    if (group === undefined) groups.set(id, [row])
    else group.push(row)
  }
  const folded = [...groups.values()].map((group): Row => {
    const out: Record<string, Value> = {}
    for (const c of fold.identity) out[c] = group[0]![c] ?? null
    for (const f of fold.columns) out[f.as] = pickBy(group, f.column, f.rule, fold.sourceKey)
    out[foldedRowsColumn] = group.length
    return out
  })
  return folded.sort(byKey(fold.identity, 1))
}
