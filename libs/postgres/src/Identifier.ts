/**
 * SQL identifier quoting. Names reach this lib already validated by the DSL, but they
 * are still quoted so that a reserved word or a mixed-case name can never change the
 * statement's meaning.
 */

/** Quotes one identifier: `my"col` becomes `"my""col"`. */
export const quoteIdent = (name: string): string => {
  if (name.length === 0) throw new Error("empty SQL identifier")
  if (name.includes("\u0000")) throw new Error("SQL identifier contains a NUL character")
  return `"${name.replaceAll("\"", "\"\"")}"`
}

/** Quotes a possibly schema-qualified name: `public.passages` becomes `"public"."passages"`. */
export const quoteQualified = (name: string): string => name.split(".").map(quoteIdent).join(".")
