import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Command } from "effect/cli"
import { commandTree } from "../src/Cli.ts"
import type { CliArgs } from "../src/Cli.ts"

/** Parses argv with the real command tree; returns what the runner would dispatch (null when parsing failed). */
const parse = (argv: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    let got: CliArgs | null = null
    const tree = commandTree((args) => Effect.sync(() => void (got = args)))
    const result = yield* Command.runWith(tree, { version: "test", renderErrors: false })([...argv]).pipe(Effect.result)
    return { args: got as CliArgs | null, failed: result._tag === "Failure" }
  }).pipe(Effect.provide(NodeServices.layer))

describe("the command line", () => {
  it.effect("run reads every flag", () =>
    Effect.gen(function*() {
      const { args } = yield* parse(["run", "--pipeline=batch-v1", "--set", "a=1", "--set=b=2", "--only", "embed", "--force", "--report", "r.json", "--log-level", "debug", "--log-format", "json"])
      expect(args).toEqual({
        command: "run", pipeline: "batch-v1", set: ["a=1", "b=2"], only: ["embed"], force: true, resume: false, verify: true, report: "r.json", logLevel: "Debug", logFormat: "json", search: null, trace: null, cluster: null
      })
    }))

  it.effect("the cluster commands: run --distributed [--ranges], worker's addresses and concurrency, follow and status take an execution id", () =>
    Effect.gen(function*() {
      expect((yield* parse(["run", "-p", "x", "--distributed"])).args?.cluster).toMatchObject({ ranges: 8 })
      expect((yield* parse(["run", "-p", "x", "--distributed", "--ranges", "32"])).args?.cluster).toMatchObject({ ranges: 32 })
      expect((yield* parse(["run", "-p", "x", "--ranges", "32"])).args?.cluster).toBeNull()
      expect((yield* parse(["worker"])).args).toMatchObject({ command: "worker", cluster: { listen: "127.0.0.1:34431", advertise: null, concurrency: 1 } })
      expect((yield* parse(["worker", "--listen", "0.0.0.0:4000", "--advertise", "node-a:4000", "--concurrency", "2"])).args?.cluster).toMatchObject({ listen: "0.0.0.0:4000", advertise: "node-a:4000", concurrency: 2 })
      expect((yield* parse(["follow", "abc123", "--no-verify"])).args).toMatchObject({ command: "follow", verify: false, cluster: { execution: "abc123" } })
      expect((yield* parse(["status", "abc123"])).args).toMatchObject({ command: "status", cluster: { execution: "abc123" } })
      expect((yield* parse(["status"])).failed).toBe(true)
      expect((yield* parse(["worker", "--concurrency", "two"])).failed).toBe(true)
    }))

  it.effect("--dry-run turns run into plan; --no-resume and --no-verify; --json is --report", () =>
    Effect.gen(function*() {
      expect((yield* parse(["run", "-p", "x", "--dry-run"])).args?.command).toBe("plan")
      const a = (yield* parse(["run", "-p", "x", "--no-resume", "--no-verify", "--json", "old.json"])).args!
      expect([a.resume, a.verify, a.report, a.logLevel, a.logFormat]).toEqual([false, false, "old.json", null, null])
      expect((yield* parse(["validate", "-p", "x"])).args).toMatchObject({ command: "validate", pipeline: "x" })
      expect((yield* parse(["test", "-p", "x"])).args).toMatchObject({ command: "test", pipeline: "x" })
      expect((yield* parse(["schema"])).args).toMatchObject({ command: "schema", pipeline: null })
    }))

  it.effect("trace reads a label, key values in order, --depth and --json", () =>
    Effect.gen(function*() {
      const a = (yield* parse(["trace", "-p", "batch-v1", "--set", "extractor_version=batch-v2", "Concept", "BERT", "method", "--depth", "1", "--json"])).args!
      expect(a).toMatchObject({ command: "trace", pipeline: "batch-v1", set: ["extractor_version=batch-v2"], trace: { label: "Concept", key: ["BERT", "method"], depth: 1, json: true } })
      expect((yield* parse(["trace", "-p", "x", "Paper", "d1"])).args?.trace).toEqual({ label: "Paper", key: ["d1"], depth: 2, json: false })
      expect((yield* parse(["trace", "-p", "x"])).failed).toBe(true)
    }))

  it.effect("search reads the search, the query and its repeatable --filter and --via", () =>
    Effect.gen(function*() {
      const a = (yield* parse(["search", "-p", "batch-v1", "passages", "graph neural networks", "--k", "5", "--filter", "section=methods", "--via", "MENTIONS:Method", "--via", "FROM_PAPER:Paper", "--exact", "--json"])).args!
      expect(a).toMatchObject({
        command: "search", pipeline: "batch-v1",
        search: { name: "passages", query: "graph neural networks", k: 5, filters: ["section=methods"], via: ["MENTIONS:Method", "FROM_PAPER:Paper"], exact: true, json: true }
      })
      expect((yield* parse(["search", "-p", "x", "s", "q"])).args?.search).toEqual({ name: "s", query: "q", k: null, filters: [], via: [], exact: false, json: false })
      expect((yield* parse(["search", "-p", "x", "s"])).failed).toBe(true)
      expect((yield* parse(["search", "-p", "x", "s", "q", "--k", "many"])).failed).toBe(true)
    }))

  it.effect("unknown commands and flags, a missing --pipeline and a bad --log-format fail without dispatching", () =>
    Effect.gen(function*() {
      for (const argv of [["frobnicate", "-p", "x"], ["run", "--pipline", "x"], ["validate"], ["run", "-p", "x", "--log-format", "xml"]]) {
        const r = yield* parse(argv)
        expect({ argv, failed: r.failed, args: r.args }).toEqual({ argv, failed: true, args: null })
      }
    }))
})
