import { readFileSync } from "node:fs"
import { availableParallelism } from "node:os"
import { Effect } from "effect"
import type { Scope } from "effect"
import ort from "onnxruntime-node"
import type { InferenceSession, Tensor } from "onnxruntime-node"
import { embeddingError } from "./EmbeddingError.ts"
import type { EmbeddingError } from "./EmbeddingError.ts"
import { cudaDecision, cudaFallbackNote } from "./ExecutionProvider.ts"
import type { ExecutionProviderPreference } from "./ExecutionProvider.ts"

// Output names, in order of preference. 2-D outputs are sentence vectors; 3-D ones are pooled.
const preferredOutputs = ["sentence_embedding", "dense_vecs", "last_hidden_state", "token_embeddings"]
const knownInputs = new Set(["input_ids", "attention_mask", "token_type_ids"])

export type IntType = "int64" | "int32"

export interface ModelIo {
  /** The inputs the session declares, with the integer type each expects. */
  readonly inputs: ReadonlyArray<{ readonly name: string; readonly type: IntType }>
  readonly output: string
}

/** A live onnxruntime session; the scope it was acquired in releases it. */
export interface OnnxSession {
  /** The execution provider it runs on: "cuda" or "cpu". */
  readonly provider: string
  /** Why it runs on CPU although CUDA was wanted or detected. */
  readonly note?: string
  readonly io: ModelIo
  /** Runs the session for `io.output` only; `rows` × `length` name the batch in a failure. */
  readonly run: (feeds: Record<string, Tensor>, rows: number, length: number) => Effect.Effect<InferenceSession.ReturnType, EmbeddingError>
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

const createSession = (path: string, settings: SessionSettings, providers: ReadonlyArray<string>) =>
  Effect.tryPromise({
    try: () => ort.InferenceSession.create(path, sessionOptions(settings, providers)),
    catch: (cause) =>
      embeddingError("SessionFailed", `cannot create onnxruntime session (${providers.join(",")}) for ${path}`, { model: settings.model, cause })
  })

/** Creates the session on CUDA when wanted and possible, else on CPU. */
const createPreferred = (
  path: string,
  settings: SessionSettings
): Effect.Effect<{ readonly session: InferenceSession; readonly provider: string; readonly note?: string }, EmbeddingError> => {
  const decision = cudaDecision(settings.preference)
  const cpu = createSession(path, settings, ["cpu"]).pipe(Effect.map((session) => ({ session, provider: "cpu" })))
  if (!decision.attempt) return cpu.pipe(Effect.map((r) => (decision.note === undefined ? r : { ...r, note: decision.note })))
  return createSession(path, settings, ["cuda", "cpu"]).pipe(
    Effect.map((session) => ({ session, provider: "cuda" })),
    Effect.catch((error) => cpu.pipe(Effect.map((r) => ({ ...r, note: cudaFallbackNote(error) }))))
  )
}

/**
 * Acquires the session of the ONNX file at `path` in the current scope. Closing the scope (also on
 * interruption) releases it; a run interrupted mid-way keeps going natively, so release waits for it
 * before freeing the session.
 */
export const acquireOnnxSession = (path: string, settings: SessionSettings): Effect.Effect<OnnxSession, EmbeddingError, Scope.Scope> =>
  Effect.gen(function*() {
    const inflight = { current: Promise.resolve() as Promise<unknown> }
    const { session, provider, note } = yield* Effect.acquireRelease(
      createPreferred(path, settings),
      ({ session }) => Effect.promise(() => inflight.current.then(() => session.release())).pipe(Effect.ignore)
    )
    const io = yield* detectModelIo(session, settings.model)
    const run = (feeds: Record<string, Tensor>, rows: number, length: number) =>
      Effect.tryPromise({
        try: () => {
          const pending = session.run(feeds, [io.output])
          inflight.current = pending.catch(() => undefined)
          return pending
        },
        catch: (cause) => embeddingError("InferenceFailed", `onnxruntime run failed (batch ${rows}×${length})`, { model: settings.model, cause })
      })
    return { provider, ...(note === undefined ? {} : { note }), io, run }
  })
