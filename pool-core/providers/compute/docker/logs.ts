import { Cause, Effect, Exit, Option } from "effect"
import { ProviderError, providerFault } from "../../../domain/errors.ts"
import { measured, providerCallDuration, providerCallsTotal } from "../../../observability/metrics.ts"
import { DOCKER_API_VERSION } from "./engine.ts"
import type { DockerTransport } from "./transport.ts"

// An agent container's log over the Docker Engine API: GET /containers/{id}/logs?stdout&stderr&tail=N (openapi.json,
// ContainerLogs). The answer is not JSON: a container without a TTY (ours: the runtime image runs without one) gets
// the multiplexed stream of the attach endpoint, frames of an 8-byte header [stream, 0, 0, 0, size as big-endian
// uint32] and `size` bytes of output (stream 1 stdout, 2 stderr), so stdout and stderr keep their order; with a TTY
// the answer is the raw output. Read with the transport's fetch, since the provider JSON client decodes JSON only.

const LOGS_TIMEOUT_MS = 15_000

/** The output of a multiplexed stream, stdout and stderr in the order written; a cut-off last frame keeps what came. */
export const demultiplex = (bytes: Uint8Array): Uint8Array => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const parts: Array<Uint8Array> = []
  let at = 0
  while (at + 8 <= bytes.length) {
    const size = view.getUint32(at + 4)
    parts.push(bytes.subarray(at + 8, Math.min(bytes.length, at + 8 + size)))
    at += 8 + size
  }
  return Buffer.concat(parts)
}

/** Whether `bytes` is a multiplexed stream: every frame header names stdin, stdout or stderr and the frames fill it. */
export const isMultiplexed = (bytes: Uint8Array): boolean => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let at = 0
  while (at + 8 <= bytes.length) {
    if (bytes[at]! > 2 || bytes[at + 1] !== 0 || bytes[at + 2] !== 0 || bytes[at + 3] !== 0) return false
    at += 8 + view.getUint32(at + 4)
  }
  return at >= bytes.length
}

const failed = (status: number | null, message: string, retryable = false) =>
  new ProviderError({ provider: "docker", operation: "container logs", status, retryable, message })

/**
 * The last `lines` lines the container wrote (stdout and stderr), as bytes; null when the engine does not know the
 * container. `tty`: the container has a TTY (raw answer); otherwise the multiplexed stream is taken apart.
 */
export const containerLogs = (
  transport: DockerTransport,
  name: string,
  lines: number,
  tty: boolean,
): Effect.Effect<Uint8Array | null, ProviderError> =>
  Effect.tryPromise({
    try: async (signal) => {
      const query = `stdout=true&stderr=true&tail=${Math.max(1, Math.floor(lines))}`
      const res = await transport.fetch(
        `${transport.baseUrl}/v${DOCKER_API_VERSION}/containers/${encodeURIComponent(name)}/logs?${query}`,
        { signal: AbortSignal.any([signal, AbortSignal.timeout(LOGS_TIMEOUT_MS)]) },
      )
      const bytes = new Uint8Array(await res.arrayBuffer())
      return { status: res.status, bytes }
    },
    catch: (e) =>
      failed(
        null,
        `Reading the log of ${name} from the Docker engine failed: ${e instanceof Error ? e.message : String(e)}`,
        true,
      ),
  }).pipe(
    Effect.flatMap(({ status, bytes }) => {
      if (status === 404) return Effect.succeed(null)
      if (status !== 200)
        return Effect.fail(
          failed(
            status,
            `The Docker engine answered ${status} for the log of ${name}: ${Buffer.from(bytes.subarray(0, 300)).toString("utf8")}`,
            status >= 500,
          ),
        )
      // Without a TTY the engine multiplexes; an engine that answers raw anyway (a driver's quirk) is read as it is.
      return Effect.succeed(tty || !isMultiplexed(bytes) ? bytes : demultiplex(bytes))
    }),
    // Counted and traced like every provider call (ProviderHttp does the same for the JSON calls).
    (call) =>
      measured(
        call,
        { histogram: providerCallDuration, counter: providerCallsTotal },
        (exit) =>
          Exit.isSuccess(exit)
            ? "ok"
            : Option.match(Cause.findErrorOption(exit.cause), { onNone: () => "interrupted", onSome: providerFault }),
        { provider: "docker" },
      ),
    Effect.withSpan("provider.docker", {
      attributes: { "provider.name": "docker", "provider.operation": "container logs", "http.method": "GET" },
    }),
  )
