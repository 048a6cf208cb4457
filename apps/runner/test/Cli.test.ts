import { describe, expect, it } from "@effect/vitest"
import { parseCli, UsageError } from "../src/Cli.ts"

describe("parseCli", () => {
  it("defaults to run and reads every flag", () => {
    const a = parseCli(["--pipeline=batch-v1", "--set", "a=1", "--set=b=2", "--only", "embed", "--force", "--json", "r.json"])
    expect(a).toEqual({ command: "run", pipeline: "batch-v1", set: ["a=1", "b=2"], only: ["embed"], dryRun: false, force: true, resume: false, verify: true, json: "r.json", logLevel: null, logFormat: null })
  })
  it("reads --log-level and --log-format, and refuses values it does not know", () => {
    const a = parseCli(["--pipeline", "x", "--log-level", "debug", "--log-format=json"])
    expect([a.logLevel, a.logFormat]).toEqual(["debug", "json"])
    expect(() => parseCli(["--pipeline", "x", "--log-level", "loud"])).toThrow(/--log-level must be one of debug, info, warn, error, got 'loud'/)
    expect(() => parseCli(["--pipeline", "x", "--log-format", "xml"])).toThrow(/--log-format must be text or json/)
  })
  it("--dry-run turns run into plan; --no-resume and --no-verify", () => {
    expect(parseCli(["run", "--pipeline", "x", "--dry-run"]).command).toBe("plan")
    const a = parseCli(["--pipeline", "x", "--no-resume", "--no-verify"])
    expect([a.resume, a.verify]).toEqual([false, false])
  })
  it("rejects unknown commands, flags and a missing pipeline with usage errors", () => {
    expect(() => parseCli(["frobnicate", "--pipeline", "x"])).toThrow(UsageError)
    expect(() => parseCli(["--pipline", "x"])).toThrow(UsageError)
    expect(() => parseCli(["validate"])).toThrow(/--pipeline is required/)
    expect(parseCli(["--help"]).command).toBe("help")
  })
})
