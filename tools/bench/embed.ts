/**
 * `npm run bench -- embed`: embedding throughput, five ways, in one run, on the same model, texts and
 * thread count (results and how to read them: libs/embeddings/README.md, "Performance").
 *
 *   a  raw     onnxruntime-node session runs over pre-tokenized batches whose tensors are built before
 *              the clock starts (the ceiling: inference alone)
 *   b  runner  the batch-v1 pipeline's embed_passages step through the real engine (compile, onlySteps,
 *              execute): keyset pages read from Postgres, tokenized, embedded, vectors written to pgvector,
 *              checkpoints in the run ledger
 *   c  fixed32 the same tokenizer and session, batches of 32 rows in source order padded to the batch's longest
 *   d  python  the Python reference: onnxruntime + tokenizers from .cache/venv, same ONNX file, same
 *              thread count, one text per session run as tools/model/reference.py embeds
 *   d' python-sorted  the same Python, but with this lib's batching (global sort by length, same
 *              token budget and row cap, padding to each batch's longest): the strongest Python
 *
 * on two text sets: "uniform" (every text exactly --uniform-tokens tokens, [CLS]/[SEP] included) and
 * "mixed" (the corpus's passages as they are).
 */
import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { availableParallelism, tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Redacted } from "effect"
import { loadPipeline } from "@polymath/dsl"
import { compile, Connectors, Embedders, execute, onlySteps } from "@polymath/engine"
import type { EmbedStep, Plan } from "@polymath/engine"
import { loadBenchSession, makeEmbedderFactory, planBatches } from "@polymath/embeddings"
import type { OnnxEmbedder, OnnxEmbedderFactory, OnnxEmbedderOptions, TokenizedText } from "@polymath/embeddings"
import { makePgConnector } from "@polymath/postgres"
import { queryRows, withClient } from "../fixtures/src/pgClient.ts"
import {
  clearVectors,
  ensureBenchDatabase,
  log,
  machine,
  machineLoad,
  median,
  repoRoot,
  restoreCorpus,
  round,
  saveOriginalTexts,
  selectForEmbedding,
  selfPeakRssMb,
  table
} from "./common.ts"
import { ensurePythonVenv } from "./python-venv.ts"
import { loadVariants, sessionVariants, variantLabel } from "./embed-variants.ts"
import type { SessionVariant } from "./embed-variants.ts"

export interface EmbedBenchOptions {
  readonly model: string
  readonly rows: number | null
  readonly reps: number
  readonly json: string | null
  readonly threads: number | null
  readonly pageSize: number | null
  readonly sets: ReadonlyArray<"uniform" | "mixed">
  readonly uniformTokens: number
  readonly methods: ReadonlyArray<Method>
  readonly database: string
  /** Embedder options for every method (a, b, c; d gets the same batching and spinning). */
  readonly spinning: boolean | null
  readonly batchTokens: number | null
  readonly batchRows: number | null
}

export const defaultMethods = ["raw", "runner", "runner-auto", "fixed32", "python", "python-sorted"] as const
/** Every method: the default five and the session-option variants of (a) (embed-variants.ts), which are asked for by name. */
export const methods = [...defaultMethods, ...sessionVariants] as const
export type Method = (typeof methods)[number]
const isVariant = (m: Method): m is SessionVariant => (sessionVariants as ReadonlyArray<string>).includes(m)
const methodLabel: Record<Method, string> = {
  raw: "(a) raw session.run",
  runner: "(b) runner embed step",
  "runner-auto": "(b') runner, precision auto",
  fixed32: "(c) fixed 32-row batches",
  python: "(d) python, 1 text/run",
  "python-sorted": "(d') python, sorted",
  ...variantLabel
}

interface Sample {
  readonly seconds: number
  /** Whole-machine CPU use during the measurement, 0..1 of all cores. */
  readonly machineBusy: number
  /** CPU seconds of the measured work's own process (this one, or the Python child). */
  readonly ownCpu: number
  readonly extra?: Record<string, unknown>
}

/** The share of the machine's cores that something other than the measured process used. */
const otherLoad = (s: Sample): number => Math.max(0, s.machineBusy - s.ownCpu / (s.seconds * availableParallelism()))

interface TextSet {
  readonly name: "uniform" | "mixed"
  readonly ids: ReadonlyArray<string>
  readonly texts: ReadonlyArray<string>
  readonly encodings: ReadonlyArray<TokenizedText>
  readonly tokens: number
}

const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(effect)

const cosine = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let ab = 0
  let aa = 0
  let bb = 0
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!
    aa += a[i]! * a[i]!
    bb += b[i]! * b[i]!
  }
  return ab / Math.sqrt(aa * bb)
}

/** Texts of exactly `tokens` tokens (special tokens included) cut from each passage, repeated when short. */
const uniformTexts = async (embedder: OnnxEmbedder, texts: ReadonlyArray<string>, tokens: number): Promise<ReadonlyArray<string>> => {
  const tk = embedder.tokenizer
  const base = await run(tk.encode(texts))
  const out: Array<string> = []
  for (const [i, text] of texts.entries()) {
    const n = Math.max(1, base[i]!.ids.length - 2)
    const long = Array.from({ length: Math.ceil(tokens / n) + 1 }, () => text).join(" ")
    const [enc] = await run(tk.encode([long]))
    let content = enc!.ids.slice(1, tokens - 1)
    let candidate = await run(tk.decode(content))
    // Decoding and re-encoding can merge or split a word piece at the edge; trim until it fits.
    for (let k = 0; k < 8; k++) {
      const [again] = await run(tk.encode([candidate]))
      if (again!.ids.length <= tokens) break
      content = content.slice(0, -1)
      candidate = await run(tk.decode(content))
    }
    out.push(candidate)
  }
  return out
}

/** The source's rows in key order (first `limit`), with the original texts from bench_texts. */
const sourceRows = async (dsn: string, plan: Plan, limit: number | null): Promise<{ ids: Array<string>; texts: Array<string> }> => {
  const step = plan.steps.find((s): s is EmbedStep => s.kind === "embed")!
  const { statement, key } = step.unit.source.keyset
  const rows = await withClient(dsn, (c) =>
    queryRows<{ id: string; text: string }>(
      c,
      `SELECT s."${key[0]}"::text AS id, b.passage_text AS text FROM (${statement.text}) s JOIN bench_texts b ON b.passage_id = s."${key[0]}"
       ORDER BY s."${key[0]}" ${limit === null ? "" : `LIMIT ${limit}`}`,
      statement.params as Array<unknown>
    ))
  return { ids: rows.map((r) => r.id), texts: rows.map((r) => r.text) }
}

const setTexts = (dsn: string, ids: ReadonlyArray<string>, texts: ReadonlyArray<string>): Promise<void> =>
  withClient(dsn, async (c) => {
    await c.query(
      `UPDATE passages p SET passage_text = v.t FROM unnest($1::uuid[], $2::text[]) AS v(id, t) WHERE p.passage_id = v.id`,
      [ids, texts]
    )
  })

const cpuSeconds = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}

const timed = async (f: () => Promise<Record<string, unknown> | void>): Promise<Sample> => {
  const load = machineLoad()
  const c0 = cpuSeconds()
  const t0 = performance.now()
  const extra = await f()
  const seconds = (performance.now() - t0) / 1000
  return { seconds, machineBusy: load(), ownCpu: cpuSeconds() - c0, ...(extra ? { extra } : {}) }
}

export const embedBench = async (o: EmbedBenchOptions): Promise<void> => {
  // Before anything slow: a missing python3 or registry fails here, in one line, not after the corpus load.
  const pythonBin = o.methods.some((m) => m === "python" || m === "python-sorted") ? ensurePythonVenv() : null
  // Every method but (b') runs the model named, in fp32 if it has an int8 variant; (b') runs what
  // the runner runs by default (its int8 variant on CPU, when the registry declares one).
  const embedderOptions: OnnxEmbedderOptions = {
    precision: "fp32",
    ...(o.threads === null ? {} : { threads: o.threads }),
    ...(o.spinning === null ? {} : { spinning: o.spinning }),
    ...(o.batchTokens === null ? {} : { maxBatchTokens: o.batchTokens }),
    ...(o.batchRows === null ? {} : { batchSize: o.batchRows })
  }
  const factory: OnnxEmbedderFactory = await run(makeEmbedderFactory(embedderOptions))
  const autoFactory: OnnxEmbedderFactory = await run(makeEmbedderFactory({ ...embedderOptions, precision: "auto" }))
  const info = await run(factory.describe(o.model))
  const entry = await run(factory.registry.lookup(o.model))
  const dsn = await ensureBenchDatabase(o.database, 1, info.dimensions)
  await saveOriginalTexts(dsn)
  await restoreCorpus(dsn)

  // The plan: batch-v1 with the model, only the embed step (what `--only embed_passages` runs).
  const loaded = await run(loadPipeline("batch-v1", {
    set: [`model=${o.model}`],
    env: { ...process.env, POSTGRES_DSN: dsn },
    allowMissingEnv: true,
    pipelinesDir: join(repoRoot, "pipelines")
  }))
  let plan = onlySteps(compile(loaded), ["embed_passages"])
  const step = plan.steps[0] as EmbedStep
  const pageSize = o.pageSize ?? step.unit.source.keyset.pageSize
  const { ids, texts: mixed } = await sourceRows(dsn, plan, o.rows)
  // The runner reads exactly the measured passages: the source restricted to `ids` (its vectors are
  // cleared before each repetition, so the embed state calls every one of them new).
  const keyset = step.unit.source.keyset
  const statement = { text: `SELECT * FROM (${keyset.statement.text}) AS measured WHERE measured.passage_id = ANY($${keyset.statement.params.length + 1}::uuid[])`, params: [...keyset.statement.params, ids] }
  plan = { ...plan, steps: [{ ...step, unit: { ...step.unit, source: { ...step.unit.source, keyset: { ...keyset, statement, pageSize } } } }] }

  log(`${ids.length} passages of the batch-v1 source; model ${o.model}; page size ${pageSize}`)
  await selectForEmbedding(dsn, ids, info.dimensions)

  // One session (tokenizer + session) for (a) and (c), loaded with the runner's options and code path
  // (the runner loads its own through the factory), plus the low-level runs these methods time.
  const result = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const loadStart = performance.now()
    const embedder = yield* loadBenchSession(entry, embedderOptions)
    const sessionLoadS: Record<string, number> = { raw: round((performance.now() - loadStart) / 1000, 2) }
    const tmp = mkdtempSync(join(tmpdir(), "polymath-bench-"))
    const variants = yield* loadVariants(entry, embedderOptions, o.methods.filter(isVariant), tmp)
    for (const [v, l] of variants) sessionLoadS[v] = round(l.loadS, 2)
    const threads = embedder.threads
    const batching = embedder.batching
    log(`intra-op threads ${threads} in ${embedder.sessions} session(s); batches of up to ${batching.batchSize} rows / ${batching.maxBatchTokens} padded tokens`)
    const pg = yield* makePgConnector({ name: "pg", dsn: Redacted.make(dsn) })
    const connectors = Connectors.of({ sql: new Map([["pg", pg]]), graph: new Map() })

    const sets: Array<TextSet> = []
    for (const name of o.sets) {
      const texts = name === "mixed" ? mixed : yield* Effect.promise(() => uniformTexts(embedder, mixed, o.uniformTokens))
      const encodings = yield* embedder.tokenizer.encode(texts)
      sets.push({ name, ids, texts, encodings, tokens: encodings.reduce((s, e) => s + e.ids.length, 0) })
    }

    const samples = new Map<string, Array<Sample>>()
    const parity: Record<string, unknown> = {}
    const add = (set: string, method: Method, s: Sample) => {
      const k = `${set}/${method}`
      samples.set(k, [...(samples.get(k) ?? []), s])
    }

    for (const set of sets) {
      yield* Effect.promise(() => setTexts(dsn, set.ids, set.texts))
      const lengths = set.encodings.map((e) => e.ids.length)
      log(`${set.name}: ${set.texts.length} texts, ${set.tokens} tokens (${Math.min(...lengths)}..${Math.max(...lengths)} per text, mean ${round(set.tokens / lengths.length, 1)})`)

      // (a): the embedder's own batch plan over the whole set at once (a global sort), tensors built up front.
      const rawPlan = planBatches(lengths, { ...batching, sortWindow: lengths.length })
      const rawBatches = rawPlan.map((b) => embedder.prepareBatch(b.map((i) => set.encodings[i]!)))
      // The same batches on each variant's session (tensors built up front, as for (a)).
      const variantBatches = new Map([...variants].map(([v, l]) => [v, rawPlan.map((b) => l.session.prepareBatch(b.map((i) => set.encodings[i]!)))] as const))
      const variantRun = (v: SessionVariant) => () => timed(async () => {
        const session = variants.get(v)!.session
        await run(Effect.forEach(variantBatches.get(v)!, (b) => session.runPrepared(b), { concurrency: session.sessions, discard: true }))
        return { padded_tokens: rawPadded, runs: rawBatches.length, threads: session.threads, sessions: session.sessions }
      })
      const rawPadded = rawBatches.reduce((s, b) => s + b.rows * b.length, 0)
      const textsFile = join(tmp, `${set.name}.json`)
      writeFileSync(textsFile, JSON.stringify(set.texts))

      let fixedVectors: ReadonlyArray<Float32Array> = []
      const measure: Record<Method, () => Promise<Sample>> = {
        // As many runs at once as there are sessions, longest first (as `embed` orders them).
        raw: () => timed(async () => {
          const order = embedder.sessions > 1 ? rawBatches.slice().reverse() : rawBatches
          await run(Effect.forEach(order, (b) => embedder.runPrepared(b), { concurrency: embedder.sessions, discard: true }))
          return { padded_tokens: rawPadded, runs: rawBatches.length, sessions: embedder.sessions }
        }),
        fixed32: () => timed(async () => {
          const out: Array<Float32Array> = []
          let padded = 0
          for (let s = 0; s < set.texts.length; s += 32) {
            const rows = await run(embedder.tokenizer.encode(set.texts.slice(s, s + 32)))
            padded += rows.length * Math.max(...rows.map((r) => r.ids.length))
            out.push(...(await run(embedder.runBatch(rows))))
          }
          fixedVectors = out
          return { padded_tokens: padded, runs: Math.ceil(set.texts.length / 32) }
        }),
        runner: () => runner(factory),
        "runner-auto": () => runner(autoFactory),
        python: () => python("single"),
        "python-sorted": () => python("sorted"),
        ...Object.fromEntries(sessionVariants.map((v) => [v, variantRun(v)])) as Record<SessionVariant, () => Promise<Sample>>
      }
      const runner = async (f: OnnxEmbedderFactory): Promise<Sample> => {
          await clearVectors(dsn, set.ids)
          const load = machineLoad()
          const c0 = cpuSeconds()
          const t0 = performance.now()
          const report = await run(execute(plan, { dryRun: false, resume: false }).pipe(
            Effect.provideService(Connectors, connectors),
            Effect.provideService(Embedders, f)
          ))
          const wall = (performance.now() - t0) / 1000
          const unit = report.units[0]!
          const written = unit.created + unit.updated
          if (written !== set.ids.length) throw new Error(`runner wrote ${written} vectors, expected ${set.ids.length}`)
          // ownCpu: this process over the whole execute (model load included), scaled to the unit's share.
          return { seconds: unit.millis / 1000, machineBusy: load(), ownCpu: ((cpuSeconds() - c0) * unit.millis) / 1000 / wall, extra: { wall_with_model_load_s: round(wall, 3), written, notes: report.notes } }
      }
      const python = async (batchingMode: "single" | "sorted"): Promise<Sample> => {
          const load = machineLoad()
          const args = [
            join(repoRoot, "tools/bench/embed_reference.py"),
            "--model", entry.files.onnx, "--tokenizer", entry.files.tokenizer, "--texts", textsFile,
            "--threads", String(threads), "--max-tokens", String(embedder.maxTokens), "--pooling", entry.pooling,
            "--batching", batchingMode, ...(o.spinning === null ? [] : ["--spinning", o.spinning ? "1" : "0"]), "--batch-tokens", String(batching.maxBatchTokens), "--batch-rows", String(batching.batchSize)
          ]
          const r = spawnSync(pythonBin!, args, { encoding: "utf8", maxBuffer: 1 << 28 })
          if (r.status !== 0) throw new Error(`python reference failed (${r.status}): ${r.stderr}`)
          const out = JSON.parse(r.stdout) as { seconds: number; cpu_seconds: number; vectors: Array<Array<number>>; peak_rss_mb: number; onnxruntime: string; tokenizers: string; padded_tokens: number; runs: number }
          if (fixedVectors.length > 0) {
            parity[`${set.name}: python (${batchingMode}) vs node, min cosine over first ${out.vectors.length}`] = round(Math.min(...out.vectors.map((v, i) => cosine(v, fixedVectors[i]!))), 7)
          }
          return { seconds: out.seconds, machineBusy: load(), ownCpu: out.cpu_seconds, extra: { peak_rss_mb: round(out.peak_rss_mb, 1), onnxruntime: out.onnxruntime, tokenizers: out.tokenizers, padded_tokens: out.padded_tokens, runs: out.runs } }
      }

      for (let rep = 0; rep < o.reps; rep++) {
        // Interleaved and rotated, so a busy spell on the shared machine hits every method alike.
        const order = o.methods.map((_, i) => o.methods[(i + rep) % o.methods.length]!)
        for (const m of order) {
          const s = yield* Effect.promise(() => measure[m]())
          add(set.name, m, s)
          log(`${set.name} rep ${rep + 1}/${o.reps} ${m.padEnd(13)} ${s.seconds.toFixed(2)} s  ${round(set.texts.length / s.seconds, 1)} passages/s  (machine busy ${Math.round(100 * s.machineBusy)}%, others ${Math.round(100 * otherLoad(s))}%)`)
        }
      }

      // Parity: what the runner wrote equals what (c) computed for the same texts.
      if (o.methods.includes("runner") && fixedVectors.length > 0) {
        const check = set.ids.slice(0, 8)
        const stored = yield* Effect.promise(() => withClient(dsn, (c) => queryRows<{ id: string; v: string }>(c, "SELECT passage_id::text AS id, embedding::text AS v FROM passages WHERE passage_id = ANY($1::uuid[])", [check])))
        const byId = new Map(stored.map((r) => [r.id, JSON.parse(r.v) as Array<number>]))
        parity[`${set.name}: runner (pgvector) vs fixed32, min cosine over first ${check.length}`] = round(Math.min(...check.map((id, i) => cosine(byId.get(id)!, fixedVectors[i]!))), 7)
      }
    }
    rmSync(tmp, { recursive: true, force: true })
    return { sets, samples, parity, threads, batching, sessionLoadS }
  })))
  await restoreCorpus(dsn)

  // Summary.
  const { sets, samples, parity, threads, batching, sessionLoadS } = result
  const summary: Record<string, Record<string, unknown>> = {}
  const rows: Array<Array<string>> = []
  // Repetitions during which other processes kept more than `busyLimit` of the cores busy are left out of
  // medians and ratios (the box is shared); when every repetition was busy, all of them are used.
  const busyLimit = 0.1
  const quiet = (ss: ReadonlyArray<Sample>) => {
    const q = ss.filter((x) => otherLoad(x) <= busyLimit)
    return q.length > 0 ? q : ss
  }
  const ratio = (set: string, num: Method, den: Method) => {
    const a = samples.get(`${set}/${num}`)
    const b = samples.get(`${set}/${den}`)
    if (!a || !b) return null
    // Paired per repetition (measured side by side), then the median.
    const pairs = a.flatMap((x, i) => (b[i] ? [[x, b[i]!] as const] : []))
    const calm = pairs.filter(([x, y]) => otherLoad(x) <= busyLimit && otherLoad(y) <= busyLimit)
    return round(median((calm.length > 0 ? calm : pairs).map(([x, y]) => y.seconds / x.seconds)), 3)
  }
  for (const set of sets) {
    const per: Record<string, unknown> = { passages: set.texts.length, tokens: set.tokens }
    for (const m of o.methods) {
      const ss = samples.get(`${set.name}/${m}`) ?? []
      const sec = median(quiet(ss).map((s) => s.seconds))
      per[m] = {
        median_s: round(sec, 3),
        reps_used: quiet(ss).length,
        runs_s: ss.map((s) => round(s.seconds, 3)),
        passages_per_s: round(set.texts.length / sec, 1),
        tokens_per_s: round(set.tokens / sec, 0),
        machine_busy: ss.map((s) => round(s.machineBusy, 2)),
        other_load: ss.map((s) => round(otherLoad(s), 2)),
        ...(ss[0]?.extra ?? {})
      }
      const vs = (den: Method) => (m === den ? "1.000" : (ratio(set.name, m, den)?.toFixed(3) ?? "-"))
      rows.push([
        `${set.name} ${methodLabel[m]}`,
        (set.texts.length / sec).toFixed(1),
        Math.round(set.tokens / sec).toString(),
        sec.toFixed(2),
        vs("raw"),
        vs("fixed32"),
        vs("python"),
        vs("python-sorted"),
        ss.map((s) => `${Math.round(100 * otherLoad(s))}${otherLoad(s) > busyLimit ? "*" : ""}`).join("/")
      ])
    }
    summary[set.name] = per
  }
  const header = ["text set / method", "passages/s", "tokens/s", "median s", "x (a)", "x (c)", "x (d)", "x (d')", "others' load %"]
  const text = table(header, rows)
  process.stdout.write(`\n${text}\n\n`)
  process.stdout.write(
    `x (col): throughput of the row's method / the column's method, median of per-repetition ratios (${o.reps} reps, methods interleaved).\n` +
      `others' load: share of all cores busy with other processes during each repetition (Postgres counts as other); repetitions\n` +
      `above ${Math.round(busyLimit * 100)} % are left out of the medians and ratios (marked *).\n`
  )
  for (const [k, v] of Object.entries(parity)) process.stdout.write(`parity ${k}: ${v}\n`)

  const pick = (set: string, num: Method, den: Method) => ({ text_set: set, ratio: ratio(set, num, den) })
  const perMethod = (key: "passages_per_s" | "tokens_per_s") =>
    Object.fromEntries(sets.map((s) => [s.name, Object.fromEntries(o.methods.map((m) => [m, (summary[s.name]![m] as Record<string, number>)[key]]))]))
  const json = {
    benchmark: "embed",
    model: o.model,
    threads,
    batching,
    spinning: o.spinning ?? "embedder default",
    page_size: pageSize,
    rows: ids.length,
    reps: o.reps,
    uniform_tokens: o.uniformTokens,
    machine: machine(),
    methods: Object.fromEntries(o.methods.map((m) => [m, methodLabel[m]])),
    runner_vs_raw: { uniform: pick("uniform", "runner", "raw"), mixed: pick("mixed", "runner", "raw") },
    runner_vs_fixed: { uniform: pick("uniform", "runner", "fixed32"), mixed: pick("mixed", "runner", "fixed32") },
    runner_vs_python: {
      note: "ratio: vs (d), the Python reference as tools/model/reference.py embeds (one text per run); ratio_vs_sorted: vs (d'), Python with this lib's batching",
      uniform: { ...pick("uniform", "runner", "python"), ratio_vs_sorted: ratio("uniform", "runner", "python-sorted") },
      mixed: { ...pick("mixed", "runner", "python"), ratio_vs_sorted: ratio("mixed", "runner", "python-sorted") }
    },
    passages_per_s: perMethod("passages_per_s"),
    session_load_s: { ...sessionLoadS, note: "tokenizer, session creation (graph optimisation) and warm-up runs; raw-saved loads the saved optimised model" },
    tokens_per_s: perMethod("tokens_per_s"),
    peak_rss_mb: {
      bench_process: selfPeakRssMb(),
      python: Object.fromEntries(sets.map((s) => [s.name, (summary[s.name]!["python-sorted"] as { peak_rss_mb?: number } | undefined)?.peak_rss_mb ?? null])),
      note: "bench_process holds two sessions (its own for a/c and the runner's for b) and all texts; the runner's own peak RSS is measured by `npm run bench -- memory`"
    },
    parity,
    sets: summary,
    table: text
  }
  if (o.json !== null) {
    writeFileSync(o.json, JSON.stringify(json, null, 2) + "\n")
    log(`wrote ${o.json}`)
  }
}
