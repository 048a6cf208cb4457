/**
 * `npm run bench -- large`: BGE-M3's shape on this machine's CPU. Runs (a) raw onnxruntime-node session
 * runs and (d) the Python reference for a few fixed batches of a large model (default: the randomly
 * initialised XLM-RoBERTa-large export in .models/xlmr-large-random), then extrapolates the CPU time of
 * the seed corpus (973 passages) from the measured seconds per token.
 *
 * Inputs: `--rows` texts of exactly `--seq` tokens per batch (cut from the corpus passages with the
 * model's own tokenizer), the same batches for both methods. The passages' token count for the
 * extrapolation is measured with bge-small's WordPiece tokenizer (BGE-M3's 250k-piece XLM-R tokenizer is
 * not on this machine; the random model ships a small test tokenizer), truncated to 512.
 */
import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { loadBenchSession, makeEmbedderFactory } from "@polymath/embeddings"
import type { ModelEntry, OnnxEmbedder } from "@polymath/embeddings"
import { queryRows, withClient } from "../fixtures/src/pgClient.ts"
import { dsnWithDatabase, log, machine, machineLoad, median, repoRoot, round, selfPeakRssMb, stackDsn, table } from "./common.ts"
import { ensurePythonVenv } from "./python-venv.ts"

export interface LargeBenchOptions {
  readonly modelDir: string | null
  readonly batches: number
  readonly reps: number
  readonly seq: number
  readonly rows: number
  readonly threads: number | null
  readonly passages: number
  readonly meanTokens: number | null
  readonly json: string | null
}

const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(effect)

/** Passage texts: the scale-1 bench corpus when it is there, else generated sentences. */
const corpusTexts = async (n: number): Promise<ReadonlyArray<string>> => {
  try {
    const dsn = dsnWithDatabase(stackDsn(), "polymath_bench")
    const rows = await withClient(dsn, (c) => queryRows<{ t: string }>(c, "SELECT passage_text AS t FROM bench_texts ORDER BY passage_id"))
    if (rows.length > 0) return rows.map((r) => r.t).slice(0, n)
  } catch {
    // no bench database: fall back
  }
  return Array.from({ length: n }, (_, i) => `Passage ${i}: graph neural networks propagate information along the edges of a knowledge graph. `.repeat(12))
}

/** Token ids of exactly `seq` tokens: the text's own ids, repeated, with the first and last special tokens kept. */
const fixedLength = async (embedder: OnnxEmbedder, text: string, seq: number) => {
  const [enc] = await run(embedder.tokenizer.encode([Array.from({ length: 40 }, () => text).join(" ")]))
  const ids = enc!.ids
  const body = ids.slice(1, -1)
  const out = [ids[0]!]
  for (let i = 0; out.length < seq - 1; i++) out.push(body[i % body.length]!)
  out.push(ids.at(-1)!)
  return { ids: out, typeIds: new Array<number>(seq).fill(0) }
}

export const largeBench = async (o: LargeBenchOptions): Promise<void> => {
  const dir = o.modelDir ?? join(repoRoot, ".models", "xlmr-large-random")
  const onnx = join(dir, "model.onnx")
  const tokenizer = join(dir, "tokenizer.json")
  if (!existsSync(onnx) || !existsSync(tokenizer)) throw new Error(`${dir} has no model.onnx + tokenizer.json (the random XLM-R-large export is made by tools/model/xlmr/export_large.py)`)
  const pythonBin = ensurePythonVenv()
  const manifest = existsSync(join(dir, "manifest.json")) ? (JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as Record<string, unknown>) : {}
  const dimensions = typeof manifest["dimensions"] === "number" ? manifest["dimensions"] : 1024
  const entry: ModelEntry = { name: String(manifest["name"] ?? "large"), dimensions, pooling: "cls", normalize: true, maxTokens: 512, files: { onnx, tokenizer } }

  // How many tokens the seed's passages have (bge-small's tokenizer; see above).
  const corpus = await corpusTexts(o.passages)
  let meanTokens = o.meanTokens
  if (meanTokens === null) {
    meanTokens = await run(Effect.scoped(Effect.gen(function*() {
      const f = yield* makeEmbedderFactory({ threads: 1 })
      const small = yield* f.load("bge-small-en-v1.5")
      const enc = yield* small.tokenizer.encode(corpus)
      return enc.reduce((s, e) => s + e.ids.length, 0) / enc.length
    })))
  }
  const totalTokens = meanTokens * o.passages

  const result = await run(Effect.scoped(Effect.gen(function*() {
    const t0 = performance.now()
    const embedder = yield* loadBenchSession(entry, { ...(o.threads === null ? {} : { threads: o.threads }), batchSize: o.rows, maxBatchTokens: o.rows * o.seq })
    const loadSeconds = (performance.now() - t0) / 1000
    log(`${entry.name}: session created and warmed up in ${loadSeconds.toFixed(1)} s; intra-op threads ${embedder.threads}`)
    const rows = yield* Effect.promise(() => Promise.all(corpus.slice(0, o.rows * o.batches).map((t) => fixedLength(embedder, t, o.seq))))
    const texts = yield* Effect.forEach(rows, (r) => embedder.tokenizer.decode(r.ids))
    const batches = Array.from({ length: o.batches }, (_, b) => embedder.prepareBatch(rows.slice(b * o.rows, (b + 1) * o.rows)))
    const tmp = mkdtempSync(join(tmpdir(), "polymath-bench-large-"))
    const textsFile = join(tmp, "texts.json")
    writeFileSync(textsFile, JSON.stringify(texts))
    const raw: Array<number> = []
    const python: Array<number> = []
    const busy: Array<number> = []
    let pythonInfo: Record<string, unknown> = {}
    for (let rep = 0; rep < o.reps; rep++) {
      for (const m of rep % 2 === 0 ? ["raw", "python"] : ["python", "raw"]) {
        const load = machineLoad()
        if (m === "raw") {
          const t = performance.now()
          for (const b of batches) yield* embedder.runPrepared(b)
          raw.push((performance.now() - t) / 1000)
        } else {
          const r = spawnSync(pythonBin, [
            join(repoRoot, "tools/bench/embed_reference.py"), "--model", onnx, "--tokenizer", tokenizer, "--texts", textsFile,
            "--threads", String(embedder.threads), "--max-tokens", "512", "--batching", "fixed", "--batch-rows", String(o.rows), "--keep", "0"
          ], { encoding: "utf8", maxBuffer: 1 << 26 })
          if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`)
          const out = JSON.parse(r.stdout) as { seconds: number; padded_tokens: number; runs: number; peak_rss_mb: number; onnxruntime: string }
          if (out.padded_tokens !== o.rows * o.seq * o.batches) log(`warning: python ran ${out.padded_tokens} padded tokens, node ${o.rows * o.seq * o.batches}`)
          python.push(out.seconds)
          pythonInfo = { peak_rss_mb: round(out.peak_rss_mb, 0), onnxruntime: out.onnxruntime }
        }
        busy.push(load())
        log(`rep ${rep + 1} ${m}: ${(m === "raw" ? raw : python).at(-1)!.toFixed(2)} s for ${o.batches} batches of ${o.rows}x${o.seq}`)
      }
    }
    rmSync(tmp, { recursive: true, force: true })
    return { raw, python, busy, loadSeconds, threads: embedder.threads, pythonInfo }
  })))

  const tokens = o.rows * o.seq * o.batches
  const perToken = { raw: median(result.raw) / tokens, python: median(result.python) / tokens }
  const estimate = (s: number) => round((s * totalTokens) / 60, 1)
  const rows = (["raw", "python"] as const).map((m) => [
    m === "raw" ? "(a) raw session.run (node)" : "(d) python reference",
    (tokens / median(result[m])).toFixed(1),
    ((o.rows * o.batches) / median(result[m])).toFixed(2),
    median(result[m]).toFixed(2),
    estimate(perToken[m]).toFixed(1)
  ])
  const text = table(["method", "tokens/s", "passages/s at this shape", `median s (${o.batches}x ${o.rows}x${o.seq})`, `est. minutes for ${o.passages} passages`], rows)
  process.stdout.write(`\n${text}\n\n${o.passages} passages x ${round(meanTokens, 1)} mean tokens = ${Math.round(totalTokens)} tokens; session load + warm-up ${result.loadSeconds.toFixed(1)} s; raw/python ${round(median(result.python) / median(result.raw), 3)}\n`)
  if (o.json !== null) {
    writeFileSync(o.json, JSON.stringify({
      benchmark: "large",
      model: dir,
      manifest,
      machine: machine(),
      threads: result.threads,
      shape: { rows: o.rows, seq: o.seq, batches: o.batches },
      runs_s: { raw: result.raw.map((x) => round(x, 2)), python: result.python.map((x) => round(x, 2)) },
      machine_busy: result.busy.map((x) => round(x, 2)),
      tokens_per_s: { raw: round(tokens / median(result.raw), 1), python: round(tokens / median(result.python), 1) },
      raw_vs_python: round(median(result.python) / median(result.raw), 3),
      extrapolation: { passages: o.passages, mean_tokens: round(meanTokens, 1), total_tokens: Math.round(totalTokens), minutes_raw: estimate(perToken.raw), minutes_python: estimate(perToken.python) },
      session_load_s: round(result.loadSeconds, 1),
      peak_rss_mb: { bench_process: selfPeakRssMb(), python: result.pythonInfo["peak_rss_mb"] ?? null },
      table: text
    }, null, 2) + "\n")
    log(`wrote ${o.json}`)
  }
}
