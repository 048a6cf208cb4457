/**
 * Pipeline params reach queries as bound parameters, never as text: `:name` in SQL
 * becomes `$n`, `$name` in Cypher stays a Cypher parameter. Both scanners skip
 * string literals, quoted identifiers and comments so a colon or dollar inside
 * them is left alone.
 */

/** A SQL statement with `:name` references replaced by `$1..$n`. */
export interface PositionalSql {
  readonly text: string
  /** Param name for each placeholder: `names[0]` binds `$1`. */
  readonly names: ReadonlyArray<string>
}

const identStart = /[A-Za-z_]/
const identPart = /[A-Za-z0-9_]/

const readIdent = (s: string, i: number): string => {
  let j = i
  while (j < s.length && identPart.test(s[j]!)) j++
  return s.slice(i, j)
}

/** Skips a quoted run or comment starting at `i`; returns the index after it, or -1 if none starts there. */
const skipSqlLiteral = (s: string, i: number): number => {
  const c = s[i]
  if (c === "'" || c === '"') {
    let j = i + 1
    while (j < s.length) {
      if (s[j] === c) {
        if (s[j + 1] === c) j += 2
        else return j + 1
      } else j++
    }
    return s.length
  }
  if (c === "-" && s[i + 1] === "-") {
    const end = s.indexOf("\n", i)
    return end === -1 ? s.length : end
  }
  if (c === "/" && s[i + 1] === "*") {
    const end = s.indexOf("*/", i + 2)
    return end === -1 ? s.length : end + 2
  }
  if (c === "$") {
    const m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(s.slice(i))
    if (m) {
      const end = s.indexOf(m[0], i + m[0].length)
      return end === -1 ? s.length : end + m[0].length
    }
  }
  return -1
}

/** Replaces `:name` with positional placeholders, numbering each distinct name once. */
export const toPositional = (sql: string): PositionalSql => {
  const names: Array<string> = []
  let out = ""
  let i = 0
  while (i < sql.length) {
    const skipped = skipSqlLiteral(sql, i)
    if (skipped !== -1) {
      out += sql.slice(i, skipped)
      i = skipped
      continue
    }
    const c = sql[i]!
    if (c === ":" && sql[i + 1] === ":") {
      out += "::"
      i += 2
      continue
    }
    if (c === ":" && i + 1 < sql.length && identStart.test(sql[i + 1]!) && sql[i - 1] !== ":") {
      const name = readIdent(sql, i + 1)
      let n = names.indexOf(name)
      if (n === -1) {
        names.push(name)
        n = names.length - 1
      }
      out += `$${n + 1}`
      i += 1 + name.length
      continue
    }
    out += c
    i++
  }
  return { text: out, names }
}

/** The distinct `$name` parameters a Cypher query uses. */
export const cypherParams = (cypher: string): ReadonlyArray<string> => {
  const names = new Set<string>()
  let i = 0
  while (i < cypher.length) {
    const c = cypher[i]!
    if (c === "'" || c === '"' || c === "`") {
      let j = i + 1
      while (j < cypher.length && cypher[j] !== c) j += cypher[j] === "\\" ? 2 : 1
      i = j + 1
      continue
    }
    if (c === "/" && cypher[i + 1] === "/") {
      const end = cypher.indexOf("\n", i)
      i = end === -1 ? cypher.length : end
      continue
    }
    if (c === "$" && i + 1 < cypher.length && identStart.test(cypher[i + 1]!)) {
      const name = readIdent(cypher, i + 1)
      names.add(name)
      i += 1 + name.length
      continue
    }
    i++
  }
  return [...names]
}
