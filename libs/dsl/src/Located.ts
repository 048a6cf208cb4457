import { Composer, isAlias, isMap, isPair, isScalar, isSeq, LineCounter, Parser } from "yaml"
import type { Node, YAMLError } from "yaml"
import { error, warning } from "./Diagnostic.ts"
import type { Diagnostic, Position } from "./Diagnostic.ts"

/** A path into a document: object keys and array indices. */
export type Path = ReadonlyArray<string | number>

/** Where a string value's text lies in its file, so a position inside the value can be found. */
export interface ScalarSpan {
  readonly file: string
  /** The whole file's text (shared by every span of the file). */
  readonly source: string
  readonly start: number
  readonly end: number
  readonly lines: LineCounter
}

/** Plain data parsed from YAML, with the source position of every value and key. */
export interface Located {
  readonly value: unknown
  /** Position of the value at a path. */
  readonly values: ReadonlyMap<string, Position>
  /** Position of the key that introduces the value at a path (for unknown-key errors). */
  readonly keys: ReadonlyMap<string, Position>
  /** Source text of the string values that may hold `${...}` or `:name`, to point inside them. */
  readonly spans: ReadonlyMap<string, ScalarSpan>
}

/** Pipelines nest a few levels; deeper input is refused before the YAML parser recurses through it. */
export const maxNesting = 64

/** Stable map key for a path. */
export const pathKey = (path: Path): string => path.join("\u0000")

/** The position of a path's key if it has one, else of its value, else of the nearest ancestor. */
export const positionOf = (doc: Located, path: Path, prefer: "key" | "value" = "value"): Position | null => {
  for (let n = path.length; n >= 0; n--) {
    const k = pathKey(path.slice(0, n))
    const first = prefer === "key" ? doc.keys.get(k) : doc.values.get(k)
    const second = prefer === "key" ? doc.values.get(k) : doc.keys.get(k)
    const p = first ?? second
    if (p) return p
  }
  return null
}

/**
 * The position of the `occurrence`-th (0-based) `needle` inside the string value at `path`.
 * The value's text is searched in the file as written; where quoting or folding changed it
 * so the needle is not found, the value's own position is the answer.
 */
export const positionWithin = (doc: Located, path: Path, needle: string, occurrence: number): Position | null => {
  const span = doc.spans.get(pathKey(path))
  if (span) {
    let at = span.source.indexOf(needle, span.start)
    for (let n = 0; n < occurrence && at !== -1; n++) at = span.source.indexOf(needle, at + needle.length)
    if (at !== -1 && at + needle.length <= span.end) {
      const { line, col } = span.lines.linePos(at)
      return { file: span.file, line, col }
    }
  }
  return positionOf(doc, path)
}

/** How many times `needle` occurs in `text` before `index`: the occurrence to ask `positionWithin` for. */
export const occurrenceBefore = (text: string, needle: string, index: number): number => {
  let n = 0
  for (let at = text.indexOf(needle); at !== -1 && at < index; at = text.indexOf(needle, at + needle.length)) n++
  return n
}

/**
 * The offset where collections nest deeper than `maxNesting`, or -1. A cheap scan of the
 * text: the YAML parser takes time quadratic in the depth (and overflows the stack), so a
 * file nested thousands deep is refused before it is parsed. Flow brackets count outside
 * quotes and comments; block nesting counts by indentation and `- ` entries.
 */
const nestingTooDeep = (text: string): number => {
  let flow = 0
  const indents: Array<number> = []
  let i = 0
  while (i < text.length) {
    // At a line start: block depth from indentation (flow collections may span lines).
    let col = 0
    while (text[i + col] === " ") col++
    let j = i + col
    if (flow === 0 && text[j] !== "\n" && text[j] !== "\r" && text[j] !== "#" && j < text.length) {
      while (indents.length > 0 && indents[indents.length - 1]! > col) indents.pop()
      if (indents.length === 0 || indents[indents.length - 1]! < col) indents.push(col)
      let dashes = 0
      while ((text[j] === "-" || text[j] === "?") && (text[j + 1] === " " || text[j + 1] === "\n")) {
        dashes++
        j += 2
        while (text[j] === " ") j++
      }
      if (indents.length + dashes > maxNesting) return j
    }
    let quote: string | null = null
    // `- - - x` nests a list per dash, wherever on the line the run starts.
    let run = 0
    for (; j < text.length && text[j] !== "\n"; j++) {
      const c = text[j]!
      if (quote === null && (c === "-" || c === "?") && (text[j + 1] === " " || text[j + 1] === "\n") && (j === 0 || text[j - 1] === " ")) {
        if (++run + indents.length > maxNesting) return j
      } else if (c !== " ") run = 0
      if (quote !== null) {
        if (c === "\\" && quote === "\"") j++
        else if (c === quote) quote = null
        continue
      }
      if (c === "#" && (j === 0 || text[j - 1] === " " || text[j - 1] === "\t")) break
      if ((c === "\"" || c === "'") && (j === 0 || " \t[{,:".includes(text[j - 1]!))) quote = c
      else if (c === "[" || c === "{") {
        flow++
        if (flow + indents.length > maxNesting) return j
      } else if ((c === "]" || c === "}") && flow > 0) flow--
    }
    i = j + 1
  }
  return -1
}

/** The yaml library's messages, with hints for the mistakes people make. */
const hints: Partial<Record<YAMLError["code"], string>> = {
  TAB_AS_INDENT: "indent with spaces; YAML does not allow tabs there",
  BAD_INDENT: "keys of one map must start at the same column",
  MULTILINE_IMPLICIT_KEY: "a key and its `:` must be on one line; check the indentation and for a missing `:`",
  BLOCK_AS_IMPLICIT_KEY: "check the indentation and for a missing `:` after a key",
  MISSING_CHAR: "check for an unclosed quote or bracket",
  BAD_DQ_ESCAPE: "in double quotes, write a backslash as \\\\ or use single quotes"
}

const yamlMessage = (e: YAMLError): string =>
  e.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "").replace(/\s*;?\s*please use YAML\.\w+\(\)/, "")

/**
 * Parses YAML keeping positions. Syntax errors, duplicate keys and anything a pipeline
 * file cannot hold (a second document, aliases, deep nesting) come back as diagnostics.
 */
export const parseLocated = (file: string, text: string): { readonly doc: Located; readonly diagnostics: ReadonlyArray<Diagnostic> } => {
  const lines = new LineCounter()
  const values = new Map<string, Position>()
  const keys = new Map<string, Position>()
  const spans = new Map<string, ScalarSpan>()
  const empty = { value: null, values, keys, spans }
  const pos = (offset: number): Position => {
    const { line, col } = lines.linePos(offset)
    return { file, line: Math.max(line, 1), col: Math.max(col, 1) }
  }
  const tooDeep = nestingTooDeep(text)
  if (tooDeep !== -1) {
    // The position needs the line starts, which the parser would otherwise record.
    lines.addNewLine(0)
    for (let k = text.indexOf("\n"); k !== -1 && k < tooDeep; k = text.indexOf("\n", k + 1)) lines.addNewLine(k + 1)
    return { doc: empty, diagnostics: [error(pos(tooDeep), `values nest more than ${maxNesting} levels deep here; a pipeline file nests a few levels`, "check for unbalanced [ or { brackets")] }
  }
  // Duplicate keys are found below: the yaml library's own check is quadratic in a map's size.
  const composer = new Composer({ uniqueKeys: false, merge: false })
  const documents = [...composer.compose(new Parser(lines.addNewLine).parse(text), true, text.length)]
  const document = documents[0]!
  const diagnostics: Array<Diagnostic> = document.errors.map((e) => {
    const unclosed = /end with an? [\]}]/.test(e.message)
    return error(pos(e.pos[0]), yamlMessage(e), unclosed ? "check for a [ or { that is never closed" : hints[e.code] ?? null)
  })
  for (const w of document.warnings) diagnostics.push(warning(pos(w.pos[0]), yamlMessage(w)))
  const second = documents[1]
  if (second) {
    const at = pos(second.range[0])
    diagnostics.push(error(at, `a pipeline file holds one YAML document, but a second one starts at line ${at.line}, column ${at.col}`, "remove the `---` line, or put each pipeline in its own file"))
  }

  // `at` is the path's key (pathKey), built as the walk descends: files may hold very many values.
  const convert = (node: unknown, at: string, depth: number): unknown => {
    if (node === null || node === undefined) return null
    const range = (node as Node).range
    if (range) values.set(at, pos(range[0]))
    if (depth > maxNesting) {
      diagnostics.push(error(pos(range?.[0] ?? 0), `values nest more than ${maxNesting} levels deep here; a pipeline file nests a few levels`))
      return null
    }
    const child = (k: string | number) => (depth === 0 ? String(k) : `${at}\u0000${k}`)
    if (isAlias(node)) {
      diagnostics.push(error(pos(range?.[0] ?? 0), `YAML aliases (*${node.source}) are not supported in pipeline files`, "share values with params or extends"))
      return null
    }
    if (isMap(node)) {
      const out: Record<string, unknown> = {}
      for (const item of node.items) {
        if (!isPair(item)) continue
        const keyNode = item.key as Node | null
        const keyPos = pos(keyNode?.range?.[0] ?? range?.[0] ?? 0)
        if (keyNode !== null && !isScalar(keyNode)) {
          diagnostics.push(error(keyPos, "a key must be a plain name, not a list or map"))
          continue
        }
        const key = String(keyNode?.value ?? "")
        const childAt = child(key)
        if (Object.hasOwn(out, key)) {
          diagnostics.push(error(keyPos, `key '${key}' appears twice in ${depth === 0 ? "the file" : at.replaceAll("\u0000", ".")} (first at line ${keys.get(childAt)?.line ?? "?"})`, "remove or rename one of them"))
          continue
        }
        if (key === "__proto__") {
          diagnostics.push(error(keyPos, "'__proto__' cannot be a key"))
          continue
        }
        keys.set(childAt, keyPos)
        out[key] = convert(item.value, childAt, depth + 1)
        // An empty value (`key:`) has no node; point at its key.
        if (item.value === null) values.set(childAt, keyPos)
      }
      return out
    }
    if (isSeq(node)) return node.items.map((item, i) => convert(item, child(i), depth + 1))
    if (isScalar(node)) {
      const v = node.value
      if (typeof v === "string" && range && (v.includes("$") || v.includes(":"))) spans.set(at, { file, source: text, start: range[0], end: range[1], lines })
      return v
    }
    return null
  }

  if (document.contents === null) values.set("", { file, line: 1, col: 1 })
  if (diagnostics.some((d) => d.severity === "error")) return { doc: empty, diagnostics }
  const value = convert(document.contents, "", 0)
  return { doc: { value, values, keys, spans }, diagnostics }
}
