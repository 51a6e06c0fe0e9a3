import { Config, Effect, Layer, Option } from "effect"
import { FetchHttpClient } from "effect/http"
import { Otlp, OtlpExporter } from "effect/observability"
import { InvalidConfig } from "../domain/errors.ts"

// OTLP export of traces, metrics and logs through Effect's own exporter (effect/observability Otlp, OTLP/HTTP with
// JSON bodies) when OTEL_EXPORTER_OTLP_ENDPOINT is set, e.g. http://127.0.0.1:4318 for a local collector; the
// signals go to <endpoint>/v1/traces, /v1/metrics and /v1/logs. OTEL_SERVICE_NAME names the service (default
// convos-agents). Unset: nothing is exported and nothing is sent anywhere. Buffered telemetry is flushed when the
// process stops (the layer's scope closes).

const invalid = (variable: string, message: string) =>
  new InvalidConfig({ variable, message: `${message} See .env.example.` })

export const telemetrySettings = Effect.gen(function* () {
  const raw = yield* Config.option(Config.String("OTEL_EXPORTER_OTLP_ENDPOINT")).pipe(
    Effect.mapError((e) =>
      invalid("OTEL_EXPORTER_OTLP_ENDPOINT", `OTEL_EXPORTER_OTLP_ENDPOINT could not be read: ${e.message}.`),
    ),
  )
  const endpoint = Option.getOrElse(raw, () => "").trim()
  if (endpoint === "") return Option.none<{ readonly endpoint: string; readonly serviceName: string }>()
  if (!URL.canParse(endpoint) || !/^https?:$/.test(new URL(endpoint).protocol)) {
    return yield* invalid(
      "OTEL_EXPORTER_OTLP_ENDPOINT",
      `OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL of an OTLP/HTTP receiver, e.g. http://127.0.0.1:4318; got "${endpoint.slice(0, 80)}".`,
    )
  }
  const serviceName = (yield* Config.String("OTEL_SERVICE_NAME").pipe(
    Config.withDefault("convos-agents"),
    Effect.mapError((e) => invalid("OTEL_SERVICE_NAME", `OTEL_SERVICE_NAME could not be read: ${e.message}.`)),
  )).trim()
  return Option.some({ endpoint: endpoint.replace(/\/+$/, ""), serviceName: serviceName || "convos-agents" })
})

/** OTLP traces, metrics and logs when OTEL_EXPORTER_OTLP_ENDPOINT is set; only a no-op flusher otherwise. */
export const TelemetryLive: Layer.Layer<OtlpExporter.Flusher, InvalidConfig> = Layer.unwrap(
  Effect.map(
    telemetrySettings,
    Option.match({
      onNone: () => OtlpExporter.layerFlusher,
      onSome: ({ endpoint, serviceName }) =>
        Otlp.layerJson({
          baseUrl: endpoint,
          resource: { serviceName, serviceVersion: "0.1.0" },
          // Keep the console logger (LOG_FORMAT): OTLP gets the logs too, it does not replace it.
          loggerMergeWithExisting: true,
        }).pipe(Layer.provide(FetchHttpClient.layer)),
    }),
  ),
)
