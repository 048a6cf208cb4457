import { existsSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"

/** "auto": CUDA when /dev/nvidia0 exists (and the provider loads), else CPU. */
export type ExecutionProviderPreference = "auto" | "cpu" | "cuda"

export const executionProviderPreferences: ReadonlyArray<ExecutionProviderPreference> = ["auto", "cpu", "cuda"]

/** Where onnxruntime-node keeps its native libraries (the CUDA provider is only there when installed with CUDA). */
const ortBinaryDir = (): string | undefined => {
  try {
    const main = createRequire(import.meta.url).resolve("onnxruntime-node")
    return join(dirname(main), "..", "bin", "napi-v6", process.platform, process.arch)
  } catch {
    return undefined
  }
}

/** Whether a CUDA session should be attempted, and if not, why (for the log line). */
export const cudaDecision = (preference: ExecutionProviderPreference): { readonly attempt: boolean; readonly note?: string } => {
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

/** The note logged when the CUDA session could not be created and the CPU one is used instead. */
export const cudaFallbackNote = (error: { readonly message: string; readonly cause?: unknown }): string => {
  const reason = summarizeCudaError(error.cause instanceof Error ? error.cause.message : error.message)
  // A provider library that does not load names the missing CUDA library only on onnxruntime's stderr.
  const hint = /failed to load/i.test(reason) ? " (`npm run cuda` lists the CUDA libraries it lacks)" : ""
  return `CUDA provider failed: ${reason}${hint}; using cpu`
}
