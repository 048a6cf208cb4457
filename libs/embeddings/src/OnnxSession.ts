import { readFileSync } from "node:fs"
import { availableParallelism } from "node:os"
import { Effect } from "effect"
import type { Scope } from "effect"
import { Worker } from "node:worker_threads"
import type { InferenceSession } from "onnxruntime-node"
import { embeddingError } from "./EmbeddingError.ts"
import type { EmbeddingError } from "./EmbeddingError.ts"
import { cudaDecision, cudaFallbackNote } from "./ExecutionProvider.ts"
import type { ExecutionProviderPreference } from "./ExecutionProvider.ts"
import type { Feed, OutputTensor, SessionShape, ThreadReply, ThreadRequest } from "./OnnxThreadProtocol.ts"

// Output names, in order of preference. 2-D outputs are sentence vectors; 3-D ones are pooled.
const preferredOutputs = ["sentence_embedding", "dense_vecs", "last_hidden_state", "token_embeddings"]
const knownInputs = new Set(["input_ids", "attention_mask", "token_type_ids"])

export type IntType = "int64" | "int32"

export interface ModelIo {
  /** The inputs the session declares, with the integer type each expects. */
  readonly inputs: ReadonlyArray<{ readonly name: string; readonly type: IntType }>
  readonly output: string
}

/**
 * A live onnxruntime session on its own thread (OnnxThread.ts), so that inference never blocks the
 * event loop; the scope it was acquired in releases the session and stops the thread.
 */
export interface OnnxSession {
  /** The execution provider it runs on: "cuda" or "cpu". */
  readonly provider: string
  /** Why it runs on CPU although CUDA was wanted or detected. */
  readonly note?: string
  readonly io: ModelIo
  /** Runs the session for `io.output` only; `rows` × `length` name the batch in a failure. */
  readonly run: (feeds: Record<string, Feed>, rows: number, length: number) => Effect.Effect<OutputTensor, EmbeddingError>
}

/** Reads input and output names from the session; fails with "UnsupportedModel" for unknown shapes. */
export const detectModelIo = (session: SessionShape, model: string): Effect.Effect<ModelIo, EmbeddingError> =>
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
 * The cores this process may use: `os.availableParallelism()` (CPU affinity), capped by a cgroup CPU
 * quota. More intra-op threads than cores only adds contention.
 */
export const availableThreads = (): number => Math.max(1, Math.min(availableParallelism(), cgroupCores() ?? Number.MAX_SAFE_INTEGER))

export interface SessionSettings {
  readonly threads: number
  /** Whether idle intra-op threads spin-wait for work (see `OnnxEmbedderOptions.spinning`). */
  readonly spinning: boolean
  readonly preference: ExecutionProviderPreference
  /** The model name, for errors. */
  readonly model: string
  readonly graphOptimization: "disabled" | "basic" | "extended" | "all"
  readonly optimizedModelPath: string | null
}

const sessionOptions = (settings: SessionSettings, providers: ReadonlyArray<string>): InferenceSession.SessionOptions => {
  const spin = settings.spinning ? "1" : "0"
  return {
    executionProviders: [...providers],
    intraOpNumThreads: settings.threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: settings.graphOptimization,
    ...(settings.optimizedModelPath === null ? {} : { optimizedModelFilePath: settings.optimizedModelPath }),
    extra: { session: { intra_op: { allow_spinning: spin }, inter_op: { allow_spinning: spin } } }
  }
}

type Request = ThreadRequest extends infer R ? R extends ThreadRequest ? Omit<R, "id"> : never : never
type Success = Extract<ThreadReply, { ok: true }>

/** The thread a session runs on: requests are answered in order; a dead thread fails what is pending. */
interface SessionThread {
  readonly call: (request: Request) => Promise<Success>
  /** Releases the session (after any run still going) and stops the thread. */
  readonly close: () => Promise<void>
}

const startThread = (): SessionThread => {
  // The thread inherits Node's flags, less those a worker refuses: `--input-type` (a script given
  // with -e) with a file entry point, and V8's heap sizes (the runner's launchers pass
  // --max-semi-space-size), which are per process ("Initiated Worker with invalid execArgv flags").
  const execArgv = process.execArgv.filter((a) => !a.startsWith("--input-type") && !/^--(max|min)-[a-z-]*-size(=|$)/.test(a))
  // In the runner's bundle (apps/runner/src/BundleBuild.ts) this module is part of a chunk, and the thread is
  // the bundle's second entry beside it.
  const thread = import.meta.url.endsWith(".ts") ? "./OnnxThread.ts" : "./OnnxThread.mjs"
  const worker = new Worker(new URL(thread, import.meta.url), { execArgv })
  const pending = new Map<number, { resolve: (reply: Success) => void; reject: (error: Error) => void }>()
  let next = 0
  let dead: Error | null = null
  // Referenced only while a request is pending: an idle session must not keep the process alive.
  worker.unref()
  const failAll = (error: Error) => {
    dead ??= error
    for (const p of pending.values()) p.reject(dead)
    pending.clear()
  }
  worker.on("message", (reply: ThreadReply) => {
    const p = pending.get(reply.id)
    if (p === undefined) return
    pending.delete(reply.id)
    if (pending.size === 0) worker.unref()
    if (reply.ok) p.resolve(reply)
    else p.reject(Object.assign(new Error(reply.error.message), { name: reply.error.name }))
  })
  worker.on("error", (error) => failAll(new Error(`the onnxruntime thread failed: ${error.message}`)))
  worker.on("exit", (code) => failAll(new Error(`the onnxruntime thread exited (code ${code})`)))
  const call = (request: Request) =>
    new Promise<Success>((resolve, reject) => {
      if (dead !== null) return reject(dead)
      const id = next++
      pending.set(id, { resolve, reject })
      worker.ref()
      worker.postMessage({ ...request, id })
    })
  const close = async () => {
    if (dead === null) await call({ kind: "release" }).catch(() => undefined)
    await worker.terminate()
  }
  return { call, close }
}

const createSession = (thread: SessionThread, path: string, settings: SessionSettings, providers: ReadonlyArray<string>) =>
  Effect.tryPromise({
    try: () => thread.call({ kind: "open", path, options: sessionOptions(settings, providers) }) as Promise<Extract<Success, { kind: "opened" }>>,
    catch: (cause) =>
      embeddingError("SessionFailed", `cannot create onnxruntime session (${providers.join(",")}) for ${path}`, { model: settings.model, cause })
  })

/** Creates the session on CUDA when wanted and possible, else on CPU. */
const createPreferred = (
  thread: SessionThread,
  path: string,
  settings: SessionSettings
): Effect.Effect<{ readonly shape: SessionShape; readonly provider: string; readonly note?: string }, EmbeddingError> => {
  const decision = cudaDecision(settings.preference)
  const cpu = createSession(thread, path, settings, ["cpu"]).pipe(Effect.map((shape) => ({ shape, provider: "cpu" })))
  if (!decision.attempt) return cpu.pipe(Effect.map((r) => (decision.note === undefined ? r : { ...r, note: decision.note })))
  return createSession(thread, path, settings, ["cuda", "cpu"]).pipe(
    Effect.map((shape) => ({ shape, provider: "cuda" })),
    Effect.catch((error) => cpu.pipe(Effect.map((r) => ({ ...r, note: cudaFallbackNote(error) }))))
  )
}

/**
 * Acquires the session of the ONNX file at `path` on a thread of its own, in the current scope.
 * Closing the scope (also on interruption) releases it; a run interrupted mid-way keeps going on
 * the thread, and the release waits for it before freeing the session.
 */
export const acquireOnnxSession = (path: string, settings: SessionSettings): Effect.Effect<OnnxSession, EmbeddingError, Scope.Scope> =>
  Effect.gen(function*() {
    const thread = yield* Effect.acquireRelease(Effect.sync(startThread), (t) => Effect.promise(() => t.close()))
    const { shape, provider, note } = yield* createPreferred(thread, path, settings)
    const io = yield* detectModelIo(shape, settings.model)
    const run = (feeds: Record<string, Feed>, rows: number, length: number) =>
      Effect.tryPromise({
        try: () => thread.call({ kind: "run", feeds, output: io.output }) as Promise<Extract<Success, { kind: "ran" }>>,
        catch: (cause) => embeddingError("InferenceFailed", `onnxruntime run failed (batch ${rows}×${length})`, { model: settings.model, cause })
      }).pipe(Effect.map((reply): OutputTensor => ({ data: reply.data, dims: reply.dims })))
    return { provider, ...(note === undefined ? {} : { note }), io, run }
  })
