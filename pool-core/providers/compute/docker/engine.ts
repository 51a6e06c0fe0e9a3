import { Effect, Schema } from "effect"
import { ProviderError } from "../../../domain/errors.ts"
import { makeProviderHttp } from "../../http/ProviderHttp.ts"
import type { DockerTransport } from "./transport.ts"

// The few Docker Engine API calls Docker compute makes (reference: openapi.json next to this file, cut from the
// published API; source and date in its info). Versioned paths (/v1.41/…): API 1.41 is what podman 4 serves and every
// Docker Engine since 20.10 still accepts, so the same requests work on both.

export const DOCKER_API_VERSION = "1.41"

const ContainerSummary = Schema.Struct({
  Id: Schema.String,
  Names: Schema.Array(Schema.String),
  State: Schema.String,
  Status: Schema.optional(Schema.String),
  Labels: Schema.NullOr(Schema.Record(Schema.String, Schema.String)),
})
export type ContainerSummary = typeof ContainerSummary.Type

const ContainerInspect = Schema.Struct({
  Id: Schema.String,
  Name: Schema.String,
  State: Schema.Struct({ Status: Schema.String, ExitCode: Schema.optional(Schema.Number) }),
  Config: Schema.Struct({
    Labels: Schema.NullOr(Schema.Record(Schema.String, Schema.String)),
    // Whether its output is a TTY: decides the format of its log (logs.ts).
    Tty: Schema.optional(Schema.Boolean),
    /** As created ("NAME=value"): the upgrade creates the container again with it. */
    Env: Schema.optional(Schema.NullOr(Schema.Array(Schema.String))),
  }),
})
export type ContainerInspect = typeof ContainerInspect.Type

export interface ContainerCreateBody {
  readonly Image: string
  readonly Env: ReadonlyArray<string>
  readonly Labels: Readonly<Record<string, string>>
  readonly HostConfig: {
    readonly Memory: number
    readonly NanoCpus: number
    readonly NetworkMode: string
    readonly Mounts: ReadonlyArray<{ readonly Type: "volume"; readonly Source: string; readonly Target: string }>
    readonly RestartPolicy: { readonly Name: "on-failure"; readonly MaximumRetryCount: number }
  }
}

export const makeDockerEngine = (transport: DockerTransport) => {
  const http = makeProviderHttp({
    provider: "docker",
    baseUrl: `${transport.baseUrl}/v${DOCKER_API_VERSION}`,
    headers: {},
    fetch: transport.fetch,
    timeout: "30 seconds",
  })
  const path = (segment: string) => encodeURIComponent(segment)

  return {
    /** The engine answers (GET /_ping answers the text "OK", not JSON: sent without the JSON client). */
    ping: Effect.tryPromise({
      try: async (signal) => {
        const res = await transport.fetch(`${transport.baseUrl}/v${DOCKER_API_VERSION}/_ping`, {
          signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]),
        })
        if (!res.ok) throw new Error(`GET /_ping answered ${res.status}: ${(await res.text()).slice(0, 200)}`)
      },
      catch: (e) =>
        new ProviderError({
          provider: "docker",
          operation: "ping",
          status: null,
          retryable: true,
          message: e instanceof Error ? `${e.message}${"code" in e ? ` (${String(e.code)})` : ""}` : String(e),
        }),
    }),
    imageExists: (image: string): Effect.Effect<boolean, ProviderError> =>
      http
        .request({ operation: "inspect image", method: "GET", path: `/images/${path(image)}/json`, okStatuses: [404] })
        .pipe(Effect.map((r) => r.status === 200)),
    /** Every container (running or not) carrying all of `labels` ("key=value"): one call. */
    list: (labels: ReadonlyArray<string>) =>
      http.json(
        {
          operation: "list containers",
          method: "GET",
          path: `/containers/json?all=true&filters=${encodeURIComponent(JSON.stringify({ label: labels }))}`,
        },
        Schema.Array(ContainerSummary),
      ),
    /** The container, or null when the engine does not know it. */
    inspect: (name: string): Effect.Effect<ContainerInspect | null, ProviderError> =>
      http
        .request({
          operation: "inspect container",
          method: "GET",
          path: `/containers/${path(name)}/json`,
          okStatuses: [404],
        })
        .pipe(
          Effect.flatMap((r) =>
            r.status === 404
              ? Effect.succeed(null)
              : Schema.decodeUnknownEffect(ContainerInspect)(r.json).pipe(Effect.orDie),
          ),
        ),
    createVolume: (name: string, labels: Readonly<Record<string, string>>) =>
      // Creating a volume that exists returns it (the API's documented behaviour): safe to repeat.
      http.request({
        operation: "create volume",
        method: "POST",
        path: "/volumes/create",
        body: { Name: name, Labels: labels },
        idempotent: true,
      }),
    /** 409: a container of that name exists (an earlier attempt got through); the caller adopts it. */
    create: (name: string, body: ContainerCreateBody) =>
      http.request({
        operation: "create container",
        method: "POST",
        path: `/containers/create?name=${encodeURIComponent(name)}`,
        body,
        okStatuses: [409],
        idempotent: true,
      }),
    /** 304: already running. */
    start: (name: string) =>
      http.request({
        operation: "start container",
        method: "POST",
        path: `/containers/${path(name)}/start`,
        okStatuses: [304],
        idempotent: true,
      }),
    /** Stops and removes the container (never its volumes); 404: already gone. */
    remove: (name: string) =>
      http.request({
        operation: "remove container",
        method: "DELETE",
        path: `/containers/${path(name)}?force=true`,
        okStatuses: [404],
      }),
    removeVolume: (name: string) =>
      http.request({ operation: "remove volume", method: "DELETE", path: `/volumes/${path(name)}`, okStatuses: [404] }),
  }
}

export type DockerEngine = ReturnType<typeof makeDockerEngine>
