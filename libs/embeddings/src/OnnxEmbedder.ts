import { existsSync } from "node:fs"
import { createRequire } from "node:module"
import { availableParallelism } from "node:os"
import { dirname, join } from "node:path"
import { Effect, Semaphore } from "effect"
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
  /** onnxruntime intra-op threads; default: the number of cores. */
  readonly threads?: number
  /** Caps the model's maxTokens (e.g. 512 for bge-m3, whose registry maxTokens is 8192). */
  readonly maxTokens?: number
  /**
   * Most rows per session run; default 8 on CPU (bigger batches cost more per text there: see the README), 64 on CUDA.
   * A registry entry's maxBatchSize caps it.
   */
  readonly batchSize?: number
  /** Most rows × padded length per session run (bounds memory for long texts); default 16384. */
  readonly maxBatchTokens?: number
  /** How many consecutive texts are sorted by token length together to reduce padding; default 1024. */
  readonly sortWindow?: number
  /** Default: POLYMATH_EP ("cpu" | "cuda") when set, else "auto". */
  readonly provider?: ExecutionProviderPreference
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
    return { attempt: false, note: "CUDA requested/detected but onnxruntime-node has no CUDA provider library (reinstall it with ONNXRUNTIME_NODE_INSTALL=cuda12); using cpu" }
  }
  return { attempt: true }
}

const sessionOptions = (threads: number, providers: ReadonlyArray<string>): InferenceSession.SessionOptions => ({
  executionProviders: [...providers],
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  executionMode: "sequential",
  graphOptimizationLevel: "all"
})

const createSession = (path: string, threads: number, providers: ReadonlyArray<string>, model: string) =>
  Effect.tryPromise({
    try: () => ort.InferenceSession.create(path, sessionOptions(threads, providers)),
    catch: (cause) => embeddingError("SessionFailed", `cannot create onnxruntime session (${providers.join(",")}) for ${path}`, { model, cause })
  })

/** Creates the session on CUDA when wanted and possible, else on CPU; releases it with the scope. */
const acquireSession = (
  path: string,
  threads: number,
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
  const cpu = createSession(path, threads, ["cpu"], model).pipe(Effect.map((session) => ({ session, provider: "cpu" })))
  const acquire = decision.attempt
    ? createSession(path, threads, ["cuda", "cpu"], model).pipe(
      Effect.map((session) => ({ session, provider: "cuda" })),
      Effect.catch((error) => cpu.pipe(Effect.map((r) => ({ ...r, note: `CUDA provider failed (${error.message}); using cpu` }))))
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
    const threads = Math.max(1, options.threads ?? availableParallelism())
    const maxBatchTokens = Math.max(maxTokens, options.maxBatchTokens ?? 16384)
    const sortWindow = Math.max(1, options.sortWindow ?? 1024)
    const preference = options.provider ?? envProvider() ?? "auto"

    const tokenizer = yield* loadTokenizer(entry.files.tokenizer, { maxTokens, model })
    const { session, provider, note, inflight } = yield* acquireSession(entry.files.onnx, threads, preference, model)
    // On a GPU bigger batches pay off; on CPU they do not (see the README).
    const batchSize = Math.max(1, Math.min(options.batchSize ?? (provider === "cpu" ? 8 : 64), entry.maxBatchSize ?? Number.MAX_SAFE_INTEGER))
    const io = yield* detectModelIo(session, model)
    const lock = yield* Semaphore.make(1)

    const runBatch = (rows: ReadonlyArray<TokenizedText>): Effect.Effect<Array<Float32Array>, EmbeddingError> =>
      Effect.gen(function*() {
        const b = rows.length
        const len = rows.reduce((m, r) => Math.max(m, r.ids.length), 1)
        const feeds: Record<string, Tensor> = {}
        for (const input of io.inputs) {
          // Rows are right-padded to the longest with the pad id, mask 0, type 0; masked positions do not change the result.
          const values = new Int32Array(b * len)
          if (input.name === "input_ids" && tokenizer.padId !== 0) values.fill(tokenizer.padId)
          rows.forEach((row, r) => {
            const base = r * len
            for (let t = 0; t < row.ids.length; t++) {
              values[base + t] = input.name === "input_ids" ? row.ids[t]! : input.name === "attention_mask" ? 1 : (row.typeIds[t] ?? 0)
            }
          })
          feeds[input.name] = input.type === "int64"
            ? new ort.Tensor("int64", BigInt64Array.from(values, (v) => BigInt(v)), [b, len])
            : new ort.Tensor("int32", values, [b, len])
        }
        const outputs = yield* Effect.tryPromise({
          try: () => {
            const run = session.run(feeds, [io.output])
            inflight.current = run.catch(() => undefined)
            return run
          },
          catch: (cause) => embeddingError("InferenceFailed", `onnxruntime run failed (batch ${b}×${len})`, { model, cause })
        })
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

    const embedTokenized = (encodings: ReadonlyArray<TokenizedText>): Effect.Effect<ReadonlyArray<Float32Array>, EmbeddingError> =>
      encodings.length === 0
        ? Effect.succeed([])
        : lock.withPermit(
          Effect.gen(function*() {
            const results = new Array<Float32Array>(encodings.length)
            const batches = planBatches(encodings.map((e) => e.ids.length), { batchSize, maxBatchTokens, sortWindow })
            for (const batch of batches) {
              const vectors = yield* runBatch(batch.map((i) => encodings[i]!))
              batch.forEach((i, k) => {
                results[i] = vectors[k]!
              })
            }
            return results
          })
        )

    const embedWith = (prefix: string | undefined) => (texts: ReadonlyArray<string>) =>
      tokenizer.encode(prefix === undefined || prefix === "" ? texts : texts.map((t) => prefix + t)).pipe(Effect.flatMap(embedTokenized))

    // Warm-up: the first run allocates and optimizes; it also checks the output dimension.
    yield* embedWith(entry.passagePrefix)(["warm-up"])
    const line = `[embeddings] ${model}: onnxruntime execution provider ${provider} (intra-op threads ${threads}, batch ${batchSize}, max tokens ${maxTokens})`
    yield* note === undefined ? Effect.logInfo(line) : Effect.logWarning(`${line}; ${note}`)

    return {
      model: { name: entry.name, dimensions: entry.dimensions, maxTokens, pooling: entry.pooling, normalize: entry.normalize },
      provider,
      maxTokens,
      tokenizer,
      embed: embedWith(entry.passagePrefix),
      embedQueries: embedWith(entry.queryPrefix),
      embedTokenized
    } satisfies OnnxEmbedder
  })
