/**
 * What an operator sees of a run: with --log-format json every stderr line is a JSON
 * object (progress and notes included) carrying the run id, and with
 * OTEL_EXPORTER_OTLP_ENDPOINT set the run's spans and metrics arrive at a real
 * OTLP/HTTP receiver (a small server on the loopback, below) with the names, attributes
 * and counts the run reports. On the movies example, in a database of its own.
 */
import { mkdtempSync, readFileSync } from "node:fs"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { e2eEnv, pgExec, resetDatabase, resetGraph, run, runner } from "./support.ts"

const db = "polymath_otel"
const pipeline = "--pipeline=pipelines/examples/movies.yaml"
const model = ["--set", "model=bge-small-en-v1.5-q"]
const dir = mkdtempSync(join(tmpdir(), "otel-"))

/** An OTLP/HTTP JSON receiver: keeps every request body by path. */
const received: Array<{ path: string; body: any }> = []
const server = createServer((req, res) => {
  let data = ""
  req.on("data", (c: Buffer) => (data += c.toString()))
  req.on("end", () => {
    try {
      received.push({ path: req.url ?? "", body: JSON.parse(data) })
      res.writeHead(200, { "content-type": "application/json" }).end("{}")
    } catch {
      res.writeHead(400).end()
    }
  })
})

type Attr = { key: string; value: Record<string, unknown> }
const attrs = (list: ReadonlyArray<Attr> | undefined): Record<string, unknown> =>
  Object.fromEntries((list ?? []).map((a) => [a.key, Object.values(a.value)[0]]))

const spans = () =>
  received.filter((r) => r.path === "/v1/traces").flatMap((r) =>
    (r.body.resourceSpans ?? []).flatMap((rs: any) => (rs.scopeSpans ?? []).flatMap((ss: any) => ss.spans ?? []))
  ).map((s: any) => ({ name: s.name as string, attributes: attrs(s.attributes), status: s.status }))

/** The last exported value of each data point of a sum metric (cumulative), keyed by its attributes. */
const sums = (name: string) => {
  const points = new Map<string, { attributes: Record<string, unknown>; value: number }>()
  for (const r of received.filter((x) => x.path === "/v1/metrics")) {
    for (const rm of r.body.resourceMetrics ?? []) {
      for (const sm of rm.scopeMetrics ?? []) {
        for (const m of sm.metrics ?? []) {
          if (m.name !== name) continue
          for (const p of m.sum?.dataPoints ?? []) {
            const a = attrs(p.attributes)
            points.set(JSON.stringify(a), { attributes: a, value: Number(p.asInt ?? p.asDouble ?? 0) })
          }
        }
      }
    }
  }
  return [...points.values()]
}

interface Report {
  readonly runId: string
  readonly units: ReadonlyArray<{ readonly step: string; readonly unit: string; readonly read: number; readonly created: number; readonly rejected: number }>
}

describe("observability", () => {
  let endpoint = ""
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    await resetDatabase(db)
    await pgExec(readFileSync("pipelines/examples/movies.sql", "utf8"), [], db)
    await resetGraph(["Movie", "Person", "Genre"])
  })
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

  it("a run exports its spans and row metrics over OTLP and logs only JSON lines on stderr", async () => {
    const file = join(dir, "report.json")
    const r = await run(runner("run", pipeline, ...model, "--log-format", "json", "--json", file), { ...e2eEnv(db), OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_SERVICE_NAME: "polymath-test" })
    expect(r.code, r.stderr).toBe(4)
    const report = JSON.parse(readFileSync(file, "utf8")) as Report

    // Logs: every stderr line is one JSON object; progress events and notes are among them.
    const lines = r.stderr.split("\n").filter((l) => l.length > 0)
    expect(lines.length).toBeGreaterThan(5)
    const records = lines.map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>
      } catch {
        throw new Error(`not a JSON line on stderr: ${l}`)
      }
    })
    for (const rec of records) expect(Object.keys(rec)).toEqual(expect.arrayContaining(["time", "level", "message"]))
    const events = new Set(records.map((rec) => rec["event"]))
    expect(events).toContain("unit_start")
    expect(events).toContain("unit_end")
    const unitEnds = records.filter((rec) => rec["event"] === "unit_end")
    expect(unitEnds.every((rec) => rec["run_id"] === report.runId && rec["pipeline"] === "movies")).toBe(true)
    expect(unitEnds.map((rec) => rec["unit"]).sort()).toEqual(report.units.map((u) => u.unit).sort())

    // Traces: one run span, a span per step and per unit, batch spans, with the pipeline and run id.
    const all = spans()
    const runs = all.filter((s) => s.name === "polymath.run")
    expect(runs).toHaveLength(1)
    expect(runs[0]!.attributes).toMatchObject({ "polymath.pipeline": "movies", "polymath.run_id": report.runId })
    expect(all.filter((s) => s.name === "polymath.step").map((s) => s.attributes["polymath.step"]).sort()).toEqual(["embed_plots", "sync_graph"])
    expect(all.filter((s) => s.name === "polymath.unit").map((s) => s.attributes["polymath.unit"]).sort()).toEqual(report.units.map((u) => u.unit).sort())
    const batches = all.filter((s) => s.name === "polymath.batch")
    expect(batches.length).toBeGreaterThanOrEqual(report.units.length)
    expect(batches.every((s) => typeof s.attributes["polymath.key_range"] === "string")).toBe(true)

    // Metrics: rows read / created / rejected per unit equal the run's report.
    const rows = sums("polymath_rows")
    for (const u of report.units) {
      const of = (outcome: string) => rows.find((p) => p.attributes["unit"] === u.unit && p.attributes["outcome"] === outcome)?.value ?? 0
      expect({ unit: u.unit, read: of("read"), created: of("created"), rejected: of("rejected") }).toEqual({ unit: u.unit, read: u.read, created: u.created, rejected: u.rejected })
    }
    expect(rows.some((p) => p.value > 0)).toBe(true)
  })

  it("without an endpoint nothing is exported, and text logs stay as they were", async () => {
    const before = received.length
    const r = await run(runner("run", pipeline, ...model), e2eEnv(db))
    expect([0, 4], r.stderr).toContain(r.code)
    expect(received.length).toBe(before)
    expect(r.stderr.split("\n").some((l) => l.startsWith("{"))).toBe(false)
    expect(r.stderr).toMatch(/^run [0-9a-f-]{36}$/m)
  })

  it("an endpoint that takes nothing is reported at start, not silently dropped", async () => {
    const r = await run(runner("validate", pipeline), { ...e2eEnv(db), OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9" })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/^warning: OTLP endpoint http:\/\/127\.0\.0\.1:9\/? did not take a test export \(.+\); traces and metrics of this run may be lost$/m)
  })
})
