/**
 * `npm run bench -- reads`: the cost per row of reading batch-v1's sources (DISTINCT and GROUP BY
 * joins) in key order, page by page, at several corpus scales, three ways:
 *
 *   cursor   the runner's reader (libs/postgres keysetPages: one server-side cursor in one
 *            REPEATABLE READ snapshot, FETCH a page at a time)
 *   rerun    the former keyset paging: the whole query re-run for every page,
 *            `SELECT * FROM (<sql>) src WHERE (key) > (last) ORDER BY key LIMIT page`
 *   single   one execution returning every row at once (what the query itself costs; a floor)
 *
 * Flat µs/row from scale to scale is linear reading; the re-run pages grow with the source.
 */
import { writeFileSync } from "node:fs"
import { loadavg } from "node:os"
import { Effect, Redacted, Stream } from "effect"
import { acquirePgPool, keysetPages } from "@polymath/postgres"
import { connect } from "../fixtures/src/pgClient.ts"
import { cpuFlags, ensureBenchDatabase, log, machine, round, table } from "./common.ts"
import { batchV1SourceQueries } from "./graph-sources.ts"
import type { SourceQuery } from "./graph-sources.ts"

export const readMethods = ["cursor", "rerun", "single"] as const
export type ReadMethod = (typeof readMethods)[number]

export interface ReadsBenchOptions {
  readonly scales: ReadonlyArray<number>
  readonly sources: ReadonlyArray<string> | null
  readonly methods: ReadonlyArray<ReadMethod>
  readonly pageSize: number
  readonly capS: number
  readonly json: string | null
}

interface Pass {
  readonly rows: number
  readonly seconds: number
  readonly capped: boolean
  readonly pages: number
}

const quote = (c: string) => `"${c.replace(/"/g, '""')}"`

const viaCursor = (dsn: string, name: string, q: SourceQuery, pageSize: number, capS: number): Promise<Pass> =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const pool = yield* acquirePgPool({ dsn: Redacted.make(dsn), applicationName: "polymath-bench-reads", max: 2 })
    const t0 = performance.now()
    let rows = 0
    let pages = 0
    let capped = false
    const source = { name, statement: { text: q.sql, params: ["batch-v1"] }, key: q.key, pageSize, cursor: null, fold: null }
    yield* keysetPages(pool, source, null).pipe(
      Stream.takeWhile(() => !(capped = performance.now() - t0 > capS * 1000)),
      Stream.runForEach((page) => Effect.sync(() => void ((rows += page.rows.length), (pages += 1))))
    )
    return { rows, pages, capped, seconds: (performance.now() - t0) / 1000 }
  })))

const viaRerun = async (dsn: string, q: SourceQuery, pageSize: number, capS: number): Promise<Pass> => {
  const client = await connect(dsn)
  try {
    const cols = q.key.map((k) => `src.${quote(k)}`)
    const order = cols.join(", ")
    const after = q.key.length === 1 ? `${cols[0]} > $2` : `(${order}) > (${q.key.map((_, i) => `$${i + 2}`).join(", ")})`
    const first = `SELECT src.* FROM (${q.sql}) src ORDER BY ${order} LIMIT ${pageSize}`
    const next = `SELECT src.* FROM (${q.sql}) src WHERE ${after} ORDER BY ${order} LIMIT ${pageSize}`
    const t0 = performance.now()
    let rows = 0
    let pages = 0
    let last: ReadonlyArray<unknown> | null = null
    for (;;) {
      if (performance.now() - t0 > capS * 1000) return { rows, pages, capped: true, seconds: (performance.now() - t0) / 1000 }
      const r = await client.query(last === null ? first : next, last === null ? ["batch-v1"] : ["batch-v1", ...last])
      rows += r.rows.length
      pages += 1
      if (r.rows.length < pageSize) break
      const tail = r.rows[r.rows.length - 1] as Record<string, unknown>
      last = q.key.map((k) => tail[k])
    }
    return { rows, pages, capped: false, seconds: (performance.now() - t0) / 1000 }
  } finally {
    await client.end()
  }
}

const viaSingle = async (dsn: string, q: SourceQuery): Promise<Pass> => {
  const client = await connect(dsn)
  try {
    const t0 = performance.now()
    const r = await client.query(`SELECT src.* FROM (${q.sql}) src ORDER BY ${q.key.map((k) => `src.${quote(k)}`).join(", ")}`, ["batch-v1"])
    return { rows: r.rows.length, pages: 1, capped: false, seconds: (performance.now() - t0) / 1000 }
  } finally {
    await client.end()
  }
}

const usPerRow = (p: Pass) => (p.rows === 0 ? Number.NaN : (p.seconds * 1e6) / p.rows)

export const readsBench = async (o: ReadsBenchOptions): Promise<void> => {
  const info = machine()
  const all = batchV1SourceQueries()
  const names = o.sources ?? Object.keys(all)
  const results: Array<{ scale: number; source: string; method: ReadMethod; load1: number } & Pass> = []
  for (const scale of o.scales) {
    const dsn = await ensureBenchDatabase(scale === 1 ? "polymath_bench" : `polymath_bench${scale}`, scale, 384)
    for (const name of names) {
      const q = all[name]
      if (q === undefined) throw new Error(`batch-v1 has no source ${name} (${Object.keys(all).join(", ")})`)
      for (const method of o.methods) {
        const load1 = loadavg()[0]!
        const pass = method === "cursor" ? await viaCursor(dsn, name, q, o.pageSize, o.capS) : method === "rerun" ? await viaRerun(dsn, q, o.pageSize, o.capS) : await viaSingle(dsn, q)
        results.push({ scale, source: name, method, load1, ...pass })
        log(`scale ${scale} ${name} ${method}: ${pass.rows} rows in ${pass.pages} pages, ${pass.seconds.toFixed(2)} s${pass.capped ? " (capped)" : ""}, ${usPerRow(pass).toFixed(1)} µs/row, load1 ${load1.toFixed(2)}`)
      }
    }
  }
  const rows: Array<Array<string>> = []
  const growth: Record<string, Record<string, number>> = {}
  for (const name of names) {
    for (const method of o.methods) {
      const rs = o.scales.map((s) => results.find((r) => r.scale === s && r.source === name && r.method === method)!)
      const first = rs[0]!
      const lastR = rs.at(-1)!
      const g = round(usPerRow(lastR) / usPerRow(first), 2)
      ;(growth[name] ??= {})[method] = g
      rows.push([
        `${name} ${method}`,
        ...rs.map((r) => `${r.rows} rows, ${r.seconds.toFixed(2)} s${r.capped ? " (capped)" : ""}, ${usPerRow(r).toFixed(1)} µs/row`),
        rs.length > 1 ? `${lastR.capped ? "> " : ""}${g}x` : "-"
      ])
    }
  }
  const text = table(["source / method", ...o.scales.map((s) => `scale ${s}`), `µs/row scale ${o.scales.at(-1)} / scale ${o.scales[0]}`], rows)
  const flags = cpuFlags()
  process.stdout.write(`\n${text}\n\npage size ${o.pageSize}; ${info.cpu}, ${info.cores} cores; load average at start ${info.loadavg_start.join(" ")}; flags: ${flags}\n`)
  if (o.json !== null) {
    writeFileSync(o.json, JSON.stringify({ benchmark: "reads", options: o, machine: { ...info, cpu_flags: flags }, us_per_row_growth: growth, runs: results.map((r) => ({ ...r, seconds: round(r.seconds, 3), us_per_row: round(usPerRow(r), 2) })), table: text }, null, 2) + "\n")
    log(`wrote ${o.json}`)
  }
}
