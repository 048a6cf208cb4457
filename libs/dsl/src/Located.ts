import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument } from "yaml"
import type { Node } from "yaml"
import { error } from "./Diagnostic.ts"
import type { Diagnostic, Position } from "./Diagnostic.ts"

/** A path into a document: object keys and array indices. */
export type Path = ReadonlyArray<string | number>

/** Plain data parsed from YAML, with the source position of every value and key. */
export interface Located {
  readonly value: unknown
  /** Position of the value at a path. */
  readonly values: ReadonlyMap<string, Position>
  /** Position of the key that introduces the value at a path (for unknown-key errors). */
  readonly keys: ReadonlyMap<string, Position>
}

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
 * Parses YAML keeping positions. Syntax errors and duplicate keys come back as
 * diagnostics; the yaml library's own messages already carry line and column.
 */
export const parseLocated = (file: string, text: string): { readonly doc: Located; readonly diagnostics: ReadonlyArray<Diagnostic> } => {
  const lineCounter = new LineCounter()
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, merge: false })
  const pos = (offset: number): Position => {
    const { line, col } = lineCounter.linePos(offset)
    return { file, line: Math.max(line, 1), col: Math.max(col, 1) }
  }
  const diagnostics: Array<Diagnostic> = document.errors.map((e) =>
    error(pos(e.pos[0]), e.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, ""))
  )
  const values = new Map<string, Position>()
  const keys = new Map<string, Position>()

  const convert = (node: unknown, path: Array<string | number>): unknown => {
    if (node === null || node === undefined) return null
    const range = (node as Node).range
    if (range) values.set(pathKey(path), pos(range[0]))
    if (isMap(node)) {
      const out: Record<string, unknown> = {}
      for (const item of node.items) {
        if (!isPair(item)) continue
        const keyNode = item.key
        const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode)
        const childPath = [...path, key]
        const keyRange = (keyNode as Node | null)?.range
        if (keyRange) keys.set(pathKey(childPath), pos(keyRange[0]))
        out[key] = convert(item.value, childPath)
        // An empty value (`key:`) has no node; point at its key.
        if (item.value === null && keyRange) values.set(pathKey(childPath), pos(keyRange[0]))
      }
      return out
    }
    if (isSeq(node)) return node.items.map((item, i) => convert(item, [...path, i]))
    if (isScalar(node)) return node.value
    return null
  }

  const value = diagnostics.length > 0 ? null : convert(document.contents, [])
  return { doc: { value, values, keys }, diagnostics }
}
