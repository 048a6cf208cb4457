import { existsSync, readFileSync } from "node:fs"
import { Config, Effect } from "effect"
import { parse } from "yaml"
import { displayPath, readLocated, resolvePipelinePath } from "@polymath/dsl"

/**
 * A machine's defaults for pipeline params, in a git-ignored file (`npm run demo`
 * writes one naming the test model, which stands in for BGE-M3 where BGE-M3 is not
 * installed). Only params the pipeline declares are taken, before `--set`, which
 * always wins; every command that uses the file says so.
 */
export const ProfileConfig = Config.String("POLYMATH_PROFILE").pipe(Config.withDefault("polymath.local.yaml"))

/** The profile's params as `key=value` strings for the params `pipeline` declares, or none. */
export const profileSets = (pipeline: string) =>
  Effect.gen(function*() {
    const path = yield* ProfileConfig
    if (path === "" || !existsSync(path)) return [] as ReadonlyArray<string>
    let params: Record<string, unknown>
    try {
      const doc = parse(readFileSync(path, "utf8")) as { params?: Record<string, unknown> } | null
      params = doc?.params ?? {}
    } catch (e) {
      yield* Effect.logWarning(`${path} is not readable YAML (${e instanceof Error ? e.message.split("\n")[0] : String(e)}); its params are not used`)
      return []
    }
    // The pipeline's declared params, through extends; a file that cannot be read is reported by the load that follows.
    const file = resolvePipelinePath(pipeline, "pipelines")
    const located = existsSync(file) ? readLocated(file, [], "pipelines").doc : null
    const declared = located !== null && typeof located.value === "object" && located.value !== null
      ? Object.keys((located.value as { params?: Record<string, unknown> }).params ?? {})
      : []
    const used = Object.entries(params).filter(([k, v]) => declared.includes(k) && v !== null && typeof v !== "object")
    if (used.length === 0) return []
    yield* Effect.logInfo(`params from ${displayPath(path)}: ${used.map(([k, v]) => `${k}=${String(v)}`).join(", ")} (--set overrides; delete the file to use the pipeline's defaults)`)
    return used.map(([k, v]) => `${k}=${String(v)}`)
  }).pipe(Effect.catch(() => Effect.succeed([] as ReadonlyArray<string>)))

