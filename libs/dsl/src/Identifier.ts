/**
 * The one identifier rule of the project: a pipeline's labels, relationship types,
 * property names and parameters are ASCII letters, digits and `_`, not starting with
 * a digit. The DSL validates names with it and the Neo4j lib refuses anything else
 * before it interpolates a name into Cypher (names cannot be query parameters there).
 */
export const identifierSource = "[A-Za-z_][A-Za-z0-9_]*"

/** Matches a whole identifier. */
export const identifierPattern = new RegExp(`^${identifierSource}$`)

/** True when `s` is a valid identifier. */
export const isIdentifier = (s: string): boolean => identifierPattern.test(s)
