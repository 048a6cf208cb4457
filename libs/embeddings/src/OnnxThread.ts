/**
 * The entry point of the thread an onnxruntime session lives on (see OnnxSession.ts).
 *
 * onnxruntime-node creates sessions and runs them synchronously on the calling JS thread (its
 * `run` only defers the call with setImmediate), so on the main thread every batch froze the event
 * loop for its whole inference: database writes, timers, progress, and a cluster worker's
 * shard-lock refresh all waited. Here only this thread waits.
 *
 * Loaded by Node directly (type stripping), not by a bundler: it imports nothing of ours.
 */
import { parentPort } from "node:worker_threads"
import ort from "onnxruntime-node"
import type { InferenceSession } from "onnxruntime-node"
import type { ThreadReply, ThreadRequest } from "./OnnxThreadProtocol.ts"

const port = parentPort
if (port === null) throw new Error("OnnxThread.ts is a worker_threads entry point")

let session: InferenceSession | null = null

const describe = (cause: unknown): { readonly message: string; readonly name: string } =>
  cause instanceof Error ? { message: cause.message, name: cause.name } : { message: String(cause), name: "Error" }

const handle = async (request: ThreadRequest): Promise<{ reply: ThreadReply; transfer: Array<ArrayBuffer> }> => {
  switch (request.kind) {
    case "open": {
      const created = await ort.InferenceSession.create(request.path, request.options)
      // A failed CUDA attempt is followed by a CPU one: keep only the session that opened.
      await session?.release()
      session = created
      const inputMetadata = created.inputMetadata.map((m) => (m.isTensor ? { name: m.name, isTensor: true, type: m.type } : { name: m.name, isTensor: false }))
      return {
        reply: { id: request.id, ok: true, kind: "opened", inputNames: [...created.inputNames], outputNames: [...created.outputNames], inputMetadata },
        transfer: []
      }
    }
    case "run": {
      if (session === null) throw new Error("no session is open on this thread")
      const feeds: Record<string, ort.Tensor> = {}
      for (const [name, feed] of Object.entries(request.feeds)) feeds[name] = new ort.Tensor(feed.type, feed.data, feed.dims)
      const outputs = await session.run(feeds, [request.output])
      const out = outputs[request.output]
      try {
        if (out === undefined || !(out.data instanceof Float32Array)) {
          return { reply: { id: request.id, ok: true, kind: "ran", data: null, dims: out === undefined ? [] : [...out.dims], type: out?.type ?? "missing" }, transfer: [] }
        }
        // The tensor's memory belongs to onnxruntime; a copy is ours to hand over without copying again.
        const data = new Float32Array(out.data)
        return { reply: { id: request.id, ok: true, kind: "ran", data, dims: [...out.dims], type: out.type }, transfer: [data.buffer] }
      } finally {
        for (const t of Object.values(outputs)) t.dispose()
      }
    }
    case "release": {
      await session?.release()
      session = null
      return { reply: { id: request.id, ok: true, kind: "released" }, transfer: [] }
    }
  }
}

// Requests are handled one at a time, in order: a release waits for the run before it.
let queue: Promise<void> = Promise.resolve()
port.on("message", (request: ThreadRequest) => {
  queue = queue.then(async () => {
    try {
      const { reply, transfer } = await handle(request)
      port.postMessage(reply, transfer)
    } catch (cause) {
      port.postMessage({ id: request.id, ok: false, error: describe(cause) } satisfies ThreadReply)
    }
  })
})
