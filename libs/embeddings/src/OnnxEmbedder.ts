import { existsSync, readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { availableParallelism } from "node:os"
import { dirname, join } from "node:path"
import { Effect, Fiber, Semaphore } from "effect"
import type { Scope } from "effect"
import ort from "onnxruntime-node"
import type { InferenceSession, Tensor } from "onnxruntime-node"
import type { Embedder } from "@polymath/engine"
import { embeddingError } from "./EmbeddingError.ts"
import type { EmbeddingError } from "./EmbeddingError.ts"
import type { ModelEntry } from "./ModelRegistry.ts"
import { loadTokenizer } from "./Tokenizer.ts"
import type { TokenizedText, Tokenizer } from "./Tokenizer.ts"

/** "auto": CUDA when POLYMATH_EP=cuda or /dev/nvidia0 exists (and the provider loads), else CPU. */
export type ExecutionProviderPreference = "auto" | "cpu" | "cuda"

export interface OnnxEmbedderOptions {
  /**
   * onnxruntime intra-op threads; default: POLYMATH_EMBED_THREADS when set, else the cores this
   * process may use (`os.availableParallelism()`, which honours CPU affinity and cgroup quotas).
   */
  readonly threads?: number
  /** Caps the model's maxTokens (e.g. 512 for bge-m3, whose registry maxTokens is 8192). */
  readonly maxTokens?: number
  /** Most rows per session run; default 64. A registry entry's maxBatchSize caps it. */
  readonly batchSize?: number
  /**
   * Token budget of one session run: rows × padded length (the longest row of the batch).
   * Default 1024 on CPU (the fastest budget measured for bge-small: see the README), 16384 on CUDA.
   * A row longer than the budget runs alone.
   */
  readonly maxBatchTokens?: number
  /** How many consecutive texts are sorted by token length together to reduce padding; default 1024. */
  readonly sortWindow?: number
  /** Default: POLYMATH_EP ("cpu" | "cuda") when set, else "auto". */
  readonly provider?: ExecutionProviderPreference
  /**
   * Whether onnxruntime's idle intra-op threads spin-wait for work (its default) instead of sleeping.
   * Default false: spinning burns the cores that Postgres, the tokenizer and the event loop need
   * between runs (see the README).
   */
  readonly spinning?: boolean
}

/** How `embed` cuts its input into session runs (resolved options). */
export interface Batching {
  readonly batchSize: number
  readonly maxBatchTokens: number
  readonly sortWindow: number
}

/**
 * A batch whose input tensors are already built, for timing session runs alone (benchmarks).
 * The tensors stay inside this lib.
 */
export interface PreparedBatch {
  readonly rows: number
  /** Padded length (the longest row). */
  readonly length: number
}

/** The engine's `Embedder`, plus what tests and query-time callers need. */
export interface OnnxEmbedder extends Embedder {
  /** The effective limit (registry maxTokens, capped by the `maxTokens` option). */
  readonly maxTokens: number
  readonly tokenizer: Tokenizer
  /** Embeds passages (the entry's passagePrefix, if any, is prepended). One unit vector per text, in order. */
  readonly embed: (texts: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<Float32Array>, EmbeddingError>
  /** Embeds search queries (the entry's queryPrefix, if any, is prepended). */
  readonly embedQueries: (texts: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<Float32Array>, EmbeddingError>
  /** Embeds already-tokenized texts (as produced by `tokenizer.encode`). */
  readonly embedTokenized: (encodings: ReadonlyArray<TokenizedText>) => Effect.Effect<ReadonlyArray<Float32Array>, EmbeddingError>
  /** onnxruntime intra-op threads of the session. */
  readonly threads: number
  readonly batching: Batching
  /**
   * Runs the rows as ONE session run, right-padded to the longest, in the given order (no sorting,
   * no splitting); pooled and normalised like `embed`. For callers with their own batching (benchmarks).
   */
  readonly runBatch: (rows: ReadonlyArray<TokenizedText>) => Effect.Effect<ReadonlyArray<Float32Array>, EmbeddingError>
  /** Builds one batch's input tensors now (see `runPrepared`). */
  readonly prepareBatch: (rows: ReadonlyArray<TokenizedText>) => PreparedBatch
  /** Only the session run of a prepared batch (the output is dropped): the ceiling `embed` is measured against. */
  readonly runPrepared: (batch: PreparedBatch) => Effect.Effect<void, EmbeddingError>
}

// Output names, in order of preference. 2-D outputs are sentence vectors; 3-D ones are pooled.
const preferredOutputs = ["sentence_embedding", "dense_vecs", "last_hidden_state", "token_embeddings"]
const knownInputs = new Set(["input_ids", "attention_mask", "token_type_ids"])

type IntType = "int64" | "int32"

interface ModelIo {
  /** The inputs the session declares, with the integer type each expects. */
  readonly inputs: ReadonlyArray<{ readonly name: string; readonly type: IntType }>
  readonly output: string
}

/** Reads input and output names from the session; fails with "UnsupportedModel" for unknown shapes. */
export const detectModelIo = (session: InferenceSession, model: string): Effect.Effect<ModelIo, EmbeddingError> =>
  Effect.suspend(() => {
    const inputs: Array<{ name: string; type: IntType }> = []
    for (const meta of session.inputMetadata) {
      if (!knownInputs.has(meta.name)) {
        return Effect.fail(
          embeddingError("UnsupportedModel", `model input "${meta.name}" is not one of ${[...knownInputs].join(", ")}`, { model })
        )
      }
      const type = meta.isTensor ? meta.type : "int64"
      if (type !== "int64" && type !== "int32") {
        return Effect.fail(embeddingError("UnsupportedModel", `model input "${meta.name}" has type ${type}; expected int64 or int32`, { model }))
      }
      inputs.push({ name: meta.name, type })
    }
    if (!inputs.some((i) => i.name === "input_ids")) {
      return Effect.fail(embeddingError("UnsupportedModel", `model has no "input_ids" input (inputs: ${session.inputNames.join(", ")})`, { model }))
    }
    const output = preferredOutputs.find((name) => session.outputNames.includes(name)) ?? session.outputNames[0]
    if (output === undefined) return Effect.fail(embeddingError("UnsupportedModel", "model has no outputs", { model }))
    return Effect.succeed({ inputs, output })
  })

/** Where onnxruntime-node keeps its native libraries (the CUDA provider is only there when installed with CUDA). */
const ortBinaryDir = (): string | undefined => {
  try {
    const main = createRequire(import.meta.url).resolve("onnxruntime-node")
    return join(dirname(main), "..", "bin", "napi-v6", process.platform, process.arch)
  } catch {
    return undefined
  }
}

const envProvider = (): ExecutionProviderPreference | undefined => {
  const ep = process.env["POLYMATH_EP"]?.toLowerCase()
  return ep === "cpu" || ep === "cuda" || ep === "auto" ? ep : undefined
}

/** Whether a CUDA session should be attempted, and if not, why (for the log line). */
const cudaDecision = (preference: ExecutionProviderPreference): { readonly attempt: boolean; readonly note?: string } => {
  if (preference === "cpu") return { attempt: false }
  const gpu = preference === "cuda" || existsSync("/dev/nvidia0")
  if (!gpu) return { attempt: false }
  const dir = ortBinaryDir()
  if (dir !== undefined && !existsSync(join(dir, "libonnxruntime_providers_cuda.so"))) {
    return { attempt: false, note: "CUDA requested/detected but onnxruntime-node has no CUDA provider library (`npm run cuda` adds it); using cpu" }
  }
  return { attempt: true }
}

/**
 * The part of an onnxruntime CUDA error a log line needs. Its CUDA failures span hundreds of
 * characters of source paths and C++ signatures around "CUDA failure 36: <text> ; ... expr=<call>;":
 * keep that clause and the failed call; anything else is cut to its first line, at most 300 characters.
 */
export const summarizeCudaError = (message: string): string => {
  const failure = /\b(?:CUDA|CUDNN|CUBLAS|CURAND|CUFFT|NVRTC) failure \d+: [^;\n]*/.exec(message)
  if (failure !== null) {
    const expr = /\bexpr=([^\n]*?);?\s*(?:\n|$)/.exec(message)?.[1]?.trim()
    return `${failure[0].trim()}${expr ? ` (in ${expr})` : ""}`
  }
  const first = (message.trim().split("\n")[0] ?? "").replace(/\s+/g, " ")
  return first.length > 300 ? `${first.slice(0, 299)}…` : first
}

/** The CPU quota of this process's cgroup (v2 `cpu.max`), in whole cores; null when unlimited or unknown. */
const cgroupCores = (): number | null => {
  try {
    const [quota, period] = readFileSync("/sys/fs/cgroup/cpu.max", "utf8").trim().split(/\s+/)
    if (quota === undefined || quota === "max" || period === undefined) return null
    const cores = Math.ceil(Number(quota) / Number(period))
    return Number.isFinite(cores) && cores > 0 ? cores : null
  } catch {
    return null
  }
}

/**
 * POLYMATH_EMBED_THREADS when it is a positive integer, else the cores this process may use:
 * `os.availableParallelism()` (CPU affinity), capped by a cgroup CPU quota. More intra-op threads than
 * cores only adds contention.
 */
export const defaultThreads = (): number => {
  const env = Number(process.env["POLYMATH_EMBED_THREADS"])
  if (Number.isInteger(env) && env > 0) return env
  return Math.max(1, Math.min(availableParallelism(), cgroupCores() ?? Number.MAX_SAFE_INTEGER))
}

const sessionOptions = (threads: number, spinning: boolean, providers: ReadonlyArray<string>): InferenceSession.SessionOptions => ({
  executionProviders: [...providers],
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  executionMode: "sequential",
  graphOptimizationLevel: "all",
  extra: { session: { intra_op: { allow_spinning: spinning ? "1" : "0" }, inter_op: { allow_spinning: spinning ? "1" : "0" } } }
})

const createSession = (path: string, threads: number, spinning: boolean, providers: ReadonlyArray<string>, model: string) =>
  Effect.tryPromise({
    try: () => ort.InferenceSession.create(path, sessionOptions(threads, spinning, providers)),
    catch: (cause) => embeddingError("SessionFailed", `cannot create onnxruntime session (${providers.join(",")}) for ${path}`, { model, cause })
  })

/** Creates the session on CUDA when wanted and possible, else on CPU; releases it with the scope. */
const acquireSession = (
  path: string,
  threads: number,
  spinning: boolean,
  preference: ExecutionProviderPreference,
  model: string
): Effect.Effect<
  {
    readonly session: InferenceSession
    readonly provider: string
    readonly note?: string
    /** The last session run, settled or not. */
    readonly inflight: { current: Promise<unknown> }
  },
  EmbeddingError,
  Scope.Scope
> => {
  const decision = cudaDecision(preference)
  const cpu = createSession(path, threads, spinning, ["cpu"], model).pipe(Effect.map((session) => ({ session, provider: "cpu" })))
  const acquire = decision.attempt
    ? createSession(path, threads, spinning, ["cuda", "cpu"], model).pipe(
      Effect.map((session) => ({ session, provider: "cuda" })),
      Effect.catch((error) => {
        const reason = summarizeCudaError(error.cause instanceof Error ? error.cause.message : error.message)
        // A provider library that does not load names the missing CUDA library only on onnxruntime's stderr.
        const hint = /failed to load/i.test(reason) ? " (`npm run cuda` lists the CUDA libraries it lacks)" : ""
        return cpu.pipe(Effect.map((r) => ({ ...r, note: `CUDA provider failed: ${reason}${hint}; using cpu` })))
      })
    )
    : cpu.pipe(Effect.map((r) => (decision.note === undefined ? r : { ...r, note: decision.note })))
  // An interrupted run keeps going natively; release waits for it before freeing the session.
  return Effect.acquireRelease(
    acquire.pipe(Effect.map((r) => ({ ...r, inflight: { current: Promise.resolve() as Promise<unknown> } }))),
    ({ session, inflight }) => Effect.promise(() => inflight.current.then(() => session.release())).pipe(Effect.ignore)
  )
}

const l2normalize = (v: Float32Array): Float32Array => {
  let sum = 0
  for (let i = 0; i < v.length; i++) sum += v[i]! * v[i]!
  const norm = Math.sqrt(sum)
  if (norm > 0) for (let i = 0; i < v.length; i++) v[i] = v[i]! / norm
  return v
}

/** Orders indexes [start, end) by token length (stable), then cuts batches bounded by rows and rows × longest. */
export const planBatches = (
  lengths: ReadonlyArray<number>,
  options: { readonly batchSize: number; readonly maxBatchTokens: number; readonly sortWindow: number }
): Array<Array<number>> => {
  const batches: Array<Array<number>> = []
  for (let start = 0; start < lengths.length; start += options.sortWindow) {
    const end = Math.min(lengths.length, start + options.sortWindow)
    const order = Array.from({ length: end - start }, (_, k) => start + k).sort((a, b) => lengths[a]! - lengths[b]! || a - b)
    let batch: Array<number> = []
    for (const i of order) {
      // Ascending order: the row being added is the longest of the batch.
      if (batch.length > 0 && (batch.length >= options.batchSize || (batch.length + 1) * lengths[i]! > options.maxBatchTokens)) {
        batches.push(batch)
        batch = []
      }
      batch.push(i)
    }
    if (batch.length > 0) batches.push(batch)
  }
  return batches
}

/** Default token budget per session run: see `OnnxEmbedderOptions.maxBatchTokens`. */
export const defaultMaxBatchTokens = (provider: string): number => (provider === "cpu" ? 1024 : 16384)

/** Loads the tokenizer and the ONNX session for a registry entry, checks it with a warm-up run. */
export const loadOnnxEmbedder = (
  entry: ModelEntry,
  options: OnnxEmbedderOptions = {}
): Effect.Effect<OnnxEmbedder, EmbeddingError, Scope.Scope> =>
  Effect.gen(function*() {
    const model = entry.name
    for (const file of [entry.files.onnx, entry.files.tokenizer]) {
      if (!existsSync(file)) {
        return yield* Effect.fail(
          embeddingError(
            "ModelFilesMissing",
            `model file ${file} is missing (bge-small-en-v1.5: run \`npm run model\`; other models: put the files in the models directory)`,
            { model }
          )
        )
      }
    }
    const maxTokens = Math.max(2, Math.min(entry.maxTokens, options.maxTokens ?? entry.maxTokens))
    const threads = Math.max(1, options.threads ?? defaultThreads())
    const sortWindow = Math.max(1, options.sortWindow ?? 1024)
    const preference = options.provider ?? envProvider() ?? "auto"

    const tokenizer = yield* loadTokenizer(entry.files.tokenizer, { maxTokens, model })
    const { session, provider, note, inflight } = yield* acquireSession(entry.files.onnx, threads, options.spinning ?? false, preference, model)
    const batchSize = Math.max(1, Math.min(options.batchSize ?? 64, entry.maxBatchSize ?? Number.MAX_SAFE_INTEGER))
    const maxBatchTokens = Math.max(1, options.maxBatchTokens ?? defaultMaxBatchTokens(provider))
    const batching: Batching = { batchSize, maxBatchTokens, sortWindow }
    const io = yield* detectModelIo(session, model)
    const lock = yield* Semaphore.make(1)
    const padId = BigInt(tokenizer.padId)

    /** Input tensors for rows right-padded to the longest: pad id, attention mask 0, type 0 (masked positions do not change the result). */
    const buildFeeds = (rows: ReadonlyArray<TokenizedText>): { readonly feeds: Record<string, Tensor>; readonly length: number } => {
      const b = rows.length
      const len = rows.reduce((m, r) => Math.max(m, r.ids.length), 1)
      const feeds: Record<string, Tensor> = {}
      for (const input of io.inputs) {
        const size = b * len
        if (input.type === "int64") {
          const values = new BigInt64Array(size)
          if (input.name === "input_ids" && padId !== 0n) values.fill(padId)
          for (let r = 0; r < b; r++) {
            const row = rows[r]!
            const base = r * len
            const n = row.ids.length
            if (input.name === "input_ids") for (let t = 0; t < n; t++) values[base + t] = BigInt(row.ids[t]!)
            else if (input.name === "attention_mask") values.fill(1n, base, base + n)
            else for (let t = 0; t < n; t++) values[base + t] = BigInt(row.typeIds[t] ?? 0)
          }
          feeds[input.name] = new ort.Tensor("int64", values, [b, len])
        } else {
          const values = new Int32Array(size)
          if (input.name === "input_ids" && tokenizer.padId !== 0) values.fill(tokenizer.padId)
          for (let r = 0; r < b; r++) {
            const row = rows[r]!
            const base = r * len
            const n = row.ids.length
            if (input.name === "input_ids") for (let t = 0; t < n; t++) values[base + t] = row.ids[t]!
            else if (input.name === "attention_mask") values.fill(1, base, base + n)
            else for (let t = 0; t < n; t++) values[base + t] = row.typeIds[t] ?? 0
          }
          feeds[input.name] = new ort.Tensor("int32", values, [b, len])
        }
      }
      return { feeds, length: len }
    }

    const runSession = (feeds: Record<string, Tensor>, rows: number, length: number) =>
      Effect.tryPromise({
        try: () => {
          const run = session.run(feeds, [io.output])
          inflight.current = run.catch(() => undefined)
          return run
        },
        catch: (cause) => embeddingError("InferenceFailed", `onnxruntime run failed (batch ${rows}×${length})`, { model, cause })
      })

    /** One session run (the caller holds the lock); vectors in row order. */
    const runRows = (rows: ReadonlyArray<TokenizedText>): Effect.Effect<Array<Float32Array>, EmbeddingError> =>
      Effect.gen(function*() {
        const b = rows.length
        const { feeds, length } = buildFeeds(rows)
        const outputs = yield* runSession(feeds, b, length)
        const out = outputs[io.output]
        if (out === undefined || !(out.data instanceof Float32Array)) {
          return yield* Effect.fail(embeddingError("UnsupportedModel", `output "${io.output}" is not a float32 tensor`, { model }))
        }
        const data = out.data
        const dims = out.dims
        const dim = dims[dims.length - 1] ?? 0
        if (dim !== entry.dimensions) {
          return yield* Effect.fail(
            embeddingError("DimensionMismatch", `model produces ${dim}-d vectors but the registry says ${entry.dimensions}`, { model })
          )
        }
        const vectors: Array<Float32Array> = []
        if (dims.length === 2) {
          for (let r = 0; r < b; r++) vectors.push(data.slice(r * dim, (r + 1) * dim))
        } else if (dims.length === 3) {
          const seq = dims[1]!
          for (let r = 0; r < b; r++) {
            const rowBase = r * seq * dim
            if (entry.pooling === "cls") {
              vectors.push(data.slice(rowBase, rowBase + dim))
            } else {
              const n = Math.min(seq, rows[r]!.ids.length)
              const v = new Float32Array(dim)
              for (let t = 0; t < n; t++) {
                const at = rowBase + t * dim
                for (let k = 0; k < dim; k++) v[k] = v[k]! + data[at + k]!
              }
              for (let k = 0; k < dim; k++) v[k] = v[k]! / Math.max(1, n)
              vectors.push(v)
            }
          }
        } else {
          return yield* Effect.fail(embeddingError("UnsupportedModel", `output "${io.output}" has rank ${dims.length}; expected 2 or 3`, { model }))
        }
        out.dispose()
        return entry.normalize ? vectors.map(l2normalize) : vectors
      })

    /** Sorts one window by length, cuts it by rows and token budget, runs the batches; results land at `offset + i`. */
    const runWindow = (encodings: ReadonlyArray<TokenizedText>, offset: number, results: Array<Float32Array>) =>
      Effect.gen(function*() {
        const batches = planBatches(encodings.map((e) => e.ids.length), { batchSize, maxBatchTokens, sortWindow: encodings.length })
        for (const batch of batches) {
          const vectors = yield* runRows(batch.map((i) => encodings[i]!))
          batch.forEach((i, k) => {
            results[offset + i] = vectors[k]!
          })
        }
      })

    const embedTokenized = (encodings: ReadonlyArray<TokenizedText>): Effect.Effect<ReadonlyArray<Float32Array>, EmbeddingError> =>
      encodings.length === 0
        ? Effect.succeed([])
        : lock.withPermit(
          Effect.gen(function*() {
            const results = new Array<Float32Array>(encodings.length)
            for (let start = 0; start < encodings.length; start += sortWindow) {
              yield* runWindow(encodings.slice(start, start + sortWindow), start, results)
            }
            return results
          })
        )

    // Texts are tokenized a window at a time; the next window's tokenization (on the tokenizer's own
    // threads, off the event loop) is started before the current window's session runs.
    const embedWith = (prefix: string | undefined) => (texts: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<Float32Array>, EmbeddingError> => {
      if (texts.length === 0) return Effect.succeed([])
      const input = prefix === undefined || prefix === "" ? texts : texts.map((t) => prefix + t)
      const encodeWindow = (start: number) => tokenizer.encode(input.slice(start, start + sortWindow))
      return lock.withPermit(
        Effect.gen(function*() {
          const results = new Array<Float32Array>(input.length)
          let pending = yield* Effect.forkChild(encodeWindow(0), { startImmediately: true })
          for (let start = 0; start < input.length; start += sortWindow) {
            const encodings = yield* Fiber.join(pending)
            if (start + sortWindow < input.length) pending = yield* Effect.forkChild(encodeWindow(start + sortWindow), { startImmediately: true })
            yield* runWindow(encodings, start, results)
          }
          return results
        })
      )
    }

    const prepared = new WeakMap<PreparedBatch, Record<string, Tensor>>()
    const prepareBatch = (rows: ReadonlyArray<TokenizedText>): PreparedBatch => {
      const { feeds, length } = buildFeeds(rows)
      const batch: PreparedBatch = { rows: rows.length, length }
      prepared.set(batch, feeds)
      return batch
    }
    const runPrepared = (batch: PreparedBatch): Effect.Effect<void, EmbeddingError> =>
      lock.withPermit(Effect.suspend(() => {
        const feeds = prepared.get(batch)
        if (feeds === undefined) return Effect.fail(embeddingError("InferenceFailed", "runPrepared: this batch was not prepared by this embedder", { model }))
        return runSession(feeds, batch.rows, batch.length).pipe(Effect.map((outputs) => {
          for (const out of Object.values(outputs)) out.dispose()
        }))
      }))

    // Warm-up: the first run allocates and optimizes; it also checks the output dimension. A second
    // run at the token budget's shape lets onnxruntime size its buffers before the first real batch.
    yield* embedWith(entry.passagePrefix)(["warm-up"])
    const warmLength = Math.max(2, Math.min(maxTokens, 128))
    const warmRows = Math.max(1, Math.min(batchSize, Math.floor(maxBatchTokens / warmLength)))
    yield* lock.withPermit(runRows(Array.from({ length: warmRows }, () => ({ ids: new Array<number>(warmLength).fill(tokenizer.padId), typeIds: [] }))))
    const line = `[embeddings] ${model}: onnxruntime execution provider ${provider} (intra-op threads ${threads}, ` +
      `batches of up to ${batchSize} rows and ${maxBatchTokens} padded tokens, max tokens ${maxTokens})`
    yield* note === undefined ? Effect.logInfo(line) : Effect.logWarning(`${line}; ${note}`)

    return {
      model: { name: entry.name, dimensions: entry.dimensions, maxTokens, pooling: entry.pooling, normalize: entry.normalize },
      provider,
      maxTokens,
      tokenizer,
      threads,
      batching,
      embed: embedWith(entry.passagePrefix),
      embedQueries: embedWith(entry.queryPrefix),
      embedTokenized,
      runBatch: (rows) => (rows.length === 0 ? Effect.succeed([]) : lock.withPermit(runRows(rows))),
      prepareBatch,
      runPrepared
    } satisfies OnnxEmbedder
  })
