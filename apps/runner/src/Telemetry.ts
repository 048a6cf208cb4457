import { Effect, Layer } from "effect"
import { redactUrl } from "@polymath/engine"
import type { RunnerSettings } from "./RunnerConfig.ts"

/**
 * Effect's exporter drops what it cannot deliver and says so only at debug level, so a
 * wrong endpoint would be silent. One empty export at start tells the operator at once.
 */
const probe = (baseUrl: string) =>
  Effect.tryPromise({
    try: (signal) => fetch(`${baseUrl}/v1/traces`, { method: "POST", headers: { "content-type": "application/json" }, body: "{\"resourceSpans\":[]}", signal }),
    catch: (e) => (e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e))
  }).pipe(
    Effect.timeoutOrElse({ duration: "3 seconds", orElse: () => Effect.fail("no answer within 3 s") }),
    Effect.flatMap((res) => (res.ok ? Effect.void : Effect.fail(`HTTP ${res.status}`))),
    Effect.catch((why) => Effect.logWarning(`OTLP endpoint ${redactUrl(baseUrl)} did not take a test export (${why}); traces and metrics of this run may be lost`))
  )

/**
 * Traces and metrics over OTLP/HTTP (JSON), with Effect's own exporter, when
 * OTEL_EXPORTER_OTLP_ENDPOINT is set; nothing otherwise. The layer's scope ends
 * with the program, and closing it flushes what is still buffered, so a short run
 * still delivers its spans and its final metric values.
 */
export const telemetryLayer = (settings: RunnerSettings, version: string) => {
  if (settings.otlpEndpoint._tag === "None") return Layer.empty
  const baseUrl = settings.otlpEndpoint.value.replace(/\/+$/, "")
  // The exporter's modules load only when an endpoint is set (they are not needed otherwise).
  const exporter = Effect.promise(() => Promise.all([import("effect/observability"), import("effect/http")])).pipe(
    Effect.map(([{ Otlp }, { FetchHttpClient }]) =>
      Otlp.layerJson({
        baseUrl,
        resource: { serviceName: settings.serviceName, serviceVersion: version },
        // Logs stay on stderr too (a shipper can take the JSON lines); OTLP also carries them.
        loggerMergeWithExisting: true,
        metricsExportInterval: "10 seconds",
        tracerExportInterval: "2 seconds",
        shutdownTimeout: "5 seconds"
      }).pipe(Layer.provide(FetchHttpClient.layer))
    )
  )
  return Layer.mergeAll(Layer.effectDiscard(probe(baseUrl)), Layer.unwrap(exporter))
}
