/**
 * The column names a query returns, read from its text when that is certain: the outer
 * SELECT's list when every item has a name Postgres would give it that the text shows
 * (`col`, `t.col`, `expr AS name`, `f(...)` as `f`, `col::type`). A `*` or an item whose
 * name cannot be read makes the answer unknown (null); `validate` then falls back to
 * asking whether the query names the column at all.
 */

type Token = { readonly kind: "word" | "quoted" | "punct" | "literal"; readonly text: string }

const wordChar = /[A-Za-z0-9_$]/

const tokenize = (sql: string): Array<Token> | null => {
  const tokens: Array<Token> = []
  let i = 0
  while (i < sql.length) {
    const c = sql[i]!
    if (/\s/.test(c)) {
      i++
    } else if (c === "-" && sql[i + 1] === "-") {
      const end = sql.indexOf("\n", i)
      i = end === -1 ? sql.length : end
    } else if (c === "/" && sql[i + 1] === "*") {
      const end = sql.indexOf("*/", i + 2)
      if (end === -1) return null
      i = end + 2
    } else if (c === "'" || c === "\"") {
      let j = i + 1
      let text = ""
      for (;;) {
        if (j >= sql.length) return null
        if (sql[j] === c) {
          if (sql[j + 1] !== c) break
          j++
        }
        text += sql[j]
        j++
      }
      tokens.push({ kind: c === "'" ? "literal" : "quoted", text })
      i = j + 1
    } else if (c === "$" && /[A-Za-z_$]/.test(sql[i + 1] ?? "")) {
      // A dollar-quoted literal: $$...$$ or $tag$...$tag$.
      const m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 64))
      if (!m) return null
      const end = sql.indexOf(m[0], i + m[0].length)
      if (end === -1) return null
      tokens.push({ kind: "literal", text: "" })
      i = end + m[0].length
    } else if (wordChar.test(c)) {
      let j = i
      while (j < sql.length && wordChar.test(sql[j]!)) j++
      tokens.push({ kind: "word", text: sql.slice(i, j) })
      i = j
    } else if (c === ":" && sql[i + 1] === ":") {
      tokens.push({ kind: "punct", text: "::" })
      i += 2
    } else {
      tokens.push({ kind: "punct", text: c })
      i++
    }
  }
  return tokens
}

const isWord = (t: Token | undefined, ...words: ReadonlyArray<string>): boolean =>
  t !== undefined && t.kind === "word" && words.includes(t.text.toLowerCase())

/** Keywords that end a select list at the top level. */
const listEnd = ["from", "into", "where", "group", "having", "window", "order", "limit", "offset", "fetch", "for", "union", "intersect", "except"]

/** Words that cannot be an implicit alias (`x AS name` without the AS). */
const notAlias = new Set(["end", "null", "true", "false", "and", "or", "not", "is", "in", "like", "ilike", "between", "then", "else", "when", "case", "as", "collate", "desc", "asc"])

const identifierName = (t: Token): string => (t.kind === "quoted" ? t.text : t.text.toLowerCase())

/** The name Postgres gives one select-list item, or null when the text does not settle it. */
const itemName = (item: ReadonlyArray<Token>): string | null => {
  const n = item.length
  if (n === 0) return null
  const last = item[n - 1]!
  // expr AS name
  if (n >= 3 && isWord(item[n - 2], "as") && (last.kind === "word" || last.kind === "quoted")) return identifierName(last)
  // a bare column, qualified or not, maybe cast: col, t.col, "Col", col::text
  let end = n
  const cast = item.findIndex((t) => t.kind === "punct" && t.text === "::")
  if (cast > 0) end = cast
  const ref = item.slice(0, end)
  const refOk = ref.length % 2 === 1 && ref.every((t, i) => (i % 2 === 0 ? t.kind === "word" || t.kind === "quoted" : t.kind === "punct" && t.text === "."))
  if (refOk && ref[ref.length - 1]!.text !== "*") {
    const name = ref[ref.length - 1]!
    // A number is a constant, which Postgres names ?column?.
    return name.kind === "word" && /^[0-9$]/.test(name.text) ? null : identifierName(name)
  }
  // f(...) is named f; f(...) name (an implicit alias after a closing parenthesis)
  const first = item[0]!
  if (first.kind === "word" && item[1]?.kind === "punct" && item[1].text === "(") {
    let depth = 0
    let close = -1
    for (let i = 1; i < n; i++) {
      const t = item[i]!
      if (t.kind === "punct" && t.text === "(") depth++
      if (t.kind === "punct" && t.text === ")" && --depth === 0) {
        close = i
        break
      }
    }
    if (close === n - 1) return first.text.toLowerCase()
    if (close === n - 2 && (last.kind === "quoted" || (last.kind === "word" && !notAlias.has(last.text.toLowerCase())))) return identifierName(last)
  }
  return null
}

/**
 * The names of the columns `sql` returns, lower-cased unless quoted; null when they cannot
 * be read for certain (a wildcard, an unnamed expression, something other than a SELECT).
 */
export const selectedColumns = (sql: string): ReadonlyArray<string> | null => {
  const tokens = tokenize(sql)
  if (tokens === null) return null
  // The outer SELECT: the first at depth 0 (after any WITH ... AS (...) parts).
  let depth = 0
  let start = -1
  if (!isWord(tokens[0], "select", "with")) return null
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!
    if (t.kind === "punct" && t.text === "(") depth++
    else if (t.kind === "punct" && t.text === ")") depth--
    else if (depth === 0 && isWord(t, "select")) {
      start = i + 1
      break
    }
  }
  if (start === -1) return null
  if (isWord(tokens[start], "all")) start++
  if (isWord(tokens[start], "distinct")) {
    start++
    if (isWord(tokens[start], "on")) {
      if (tokens[start + 1]?.text !== "(") return null
      let d = 0
      let i = start + 1
      for (; i < tokens.length; i++) {
        if (tokens[i]!.kind === "punct" && tokens[i]!.text === "(") d++
        if (tokens[i]!.kind === "punct" && tokens[i]!.text === ")" && --d === 0) break
      }
      start = i + 1
    }
  }
  const names: Array<string> = []
  let item: Array<Token> = []
  depth = 0
  for (let i = start; i <= tokens.length; i++) {
    const t = tokens[i]
    const atEnd = t === undefined || (depth === 0 && (isWord(t, ...listEnd) || (t.kind === "punct" && t.text === ";")))
    if (atEnd || (depth === 0 && t.kind === "punct" && t.text === ",")) {
      const name = itemName(item)
      if (name === null) return null
      names.push(name)
      item = []
      if (atEnd) break
      continue
    }
    if (t.kind === "punct" && t.text === "(") depth++
    if (t.kind === "punct" && t.text === ")") depth--
    if (t.kind === "punct" && t.text === "*" && depth === 0 && item.length === 0) return null
    item.push(t)
  }
  return names
}
