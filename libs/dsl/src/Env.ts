import { Config, ConfigProvider, Effect, Option } from "effect"
import { error, SpecError } from "./Diagnostic.ts"

/** Values of environment variables by name; an unset (or empty) one is absent. */
export type EnvValues = Readonly<Record<string, string | undefined>>

const readOne = (name: string) =>
  Config.String(name).pipe(
    Config.option,
    Effect.map((value) => [name, Option.getOrUndefined(value)] as const),
    Effect.mapError((e) => new SpecError({ diagnostics: [error(null, `environment variable ${name} could not be read: ${e.message}`)] }))
  )

/**
 * Reads the named variables through the current `ConfigProvider`: the process
 * environment unless the caller provides another (tests do), or `fixed` when given.
 * The provider treats an empty value as unset, which `${env.X:-default}` relies on.
 */
export const readEnv = (names: ReadonlyArray<string>, fixed?: EnvValues): Effect.Effect<EnvValues, SpecError> => {
  const read = Effect.forEach(names, readOne).pipe(Effect.map((pairs) => Object.fromEntries(pairs)))
  return fixed === undefined ? read : read.pipe(Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnvRecord({ ...fixed })))
}
