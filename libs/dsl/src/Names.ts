import { Schema } from "effect"
import { identifierPattern, identifierSource } from "./Identifier.ts"

/** A Neo4j label, relationship type or property name, or a SQL column: a plain identifier. */
export const Identifier = Schema.String.check(
  Schema.isPattern(identifierPattern, { message: "must be a plain identifier (letters, digits, _; not starting with a digit)" })
)

/** A SQL table name, optionally schema-qualified: one or two identifiers. */
export const TableName = Schema.String.check(
  Schema.isPattern(new RegExp(`^(${identifierSource}\\.)?${identifierSource}$`), { message: "must be a table name like `passages` or `schema.passages`" })
)

/**
 * A name of a pipeline, source, step or connection: an identifier that may go on in
 * `-`-joined parts (`batch-v1`). Names never reach query text, so the `-` is safe.
 */
export const Name = Schema.String.check(
  Schema.isPattern(new RegExp(`^${identifierSource}(-[A-Za-z0-9_]*)*$`), { message: "must be a name of letters, digits, - and _" })
)

/** A map whose keys must be valid names (checked after the values, so both kinds of error show). */
export const NamedMap = <V extends Schema.Top>(key: Schema.String | typeof Identifier | typeof Name, value: V) =>
  Schema.Record(Schema.String, value).check(Schema.isPropertyNames(key))
