import type { SqlStatement } from "@polymath/engine"

// A pipeline's SQL may end with `;` and even a comment after it (`...; -- why`); inside our
// subquery either would be a syntax error. The comment must hold no quote, so a `;` inside a
// trailing string literal is never mistaken for a terminator.
const TERMINATOR = /;[ \t]*(?:--[^\n'"]*)?\s*$/

/** The statement as `(\n<text>\n) AS src`, without a trailing `;`; the newline ends any trailing comment. */
export const asSubquery = (statement: SqlStatement): string => {
  let text = statement.text.trimEnd()
  while (TERMINATOR.test(text)) text = text.replace(TERMINATOR, "").trimEnd()
  return `(\n${text}\n) AS src`
}
