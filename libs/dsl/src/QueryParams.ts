/**
 * Pipeline params reach queries as bound parameters, never as text: `:name` in SQL
 * becomes `$n`, `$name` in Cypher stays a Cypher parameter. Both scanners skip
 * string literals, quoted identifiers and comments so a colon or dollar inside
 * them is left alone.
 */
import { identifierSource } from "./Identifier.ts"

/** A SQL statement with `:name` references replaced by `$1..$n`. */
export interface PositionalSql {
  readonly text: string
  /** Param name for each placeholder: `names[0]` binds `$1`. */
  readonly names: ReadonlyArray<string>
}

const identifierAt = new RegExp(identifierSource, "y")
const dollarQuote = new RegExp(`\\$(${identifierSource})?\\$`, "y")

/** The identifier starting at `i`, or "" when none starts there. */
const readIdent = (s: string, i: number): string => {
  identifierAt.lastIndex = i
  return identifierAt.exec(s)?.[0] ?? ""
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
    dollarQuote.lastIndex = i
    const m = dollarQuote.exec(s)
    if (m) {
      const end = s.indexOf(m[0], i + m[0].length)
      return end === -1 ? s.length : end + m[0].length
    }
  }
  return -1
}

/** One `:name` in a SQL statement, at `index` (the colon). */
export interface SqlParamRef {
  readonly name: string
  readonly index: number
}

/** Every `:name` reference, in order; `::casts`, literals, quoted identifiers and comments are skipped. */
export const sqlParamRefs = (sql: string): ReadonlyArray<SqlParamRef> => {
  const refs: Array<SqlParamRef> = []
  let i = 0
  while (i < sql.length) {
    const skipped = skipSqlLiteral(sql, i)
    if (skipped !== -1) {
      i = skipped
      continue
    }
    if (sql[i] === ":" && sql[i + 1] === ":") {
      i += 2
      continue
    }
    const name = sql[i] === ":" && sql[i - 1] !== ":" ? readIdent(sql, i + 1) : ""
    if (name !== "") {
      refs.push({ name, index: i })
      i += 1 + name.length
      continue
    }
    i++
  }
  return refs
}

/** Replaces `:name` with positional placeholders, numbering each distinct name once. */
export const toPositional = (sql: string): PositionalSql => {
  const numbers = new Map<string, number>()
  let out = ""
  let from = 0
  for (const ref of sqlParamRefs(sql)) {
    const n = numbers.get(ref.name) ?? numbers.size + 1
    numbers.set(ref.name, n)
    out += `${sql.slice(from, ref.index)}$${n}`
    from = ref.index + 1 + ref.name.length
  }
  return { text: out + sql.slice(from), names: [...numbers.keys()] }
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
    const name = c === "$" ? readIdent(cypher, i + 1) : ""
    if (name !== "") {
      names.add(name)
      i += 1 + name.length
      continue
    }
    i++
  }
  return [...names]
}
