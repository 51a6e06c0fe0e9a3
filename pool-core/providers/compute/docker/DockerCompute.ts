// Compute on a Docker engine (COMPUTE=docker; podman's Docker-compatible service works the same): one container per
// agent from the runtime image (runtime/Dockerfile), with the memory and CPU limits of the settings, a named volume
// at /data for its state, and labels carrying the pool's environment and the instance id. So:
// - status of every agent is ONE list call filtered by the environment label;
// - stop is not destroy: a stopped container (or one removed by hand) keeps its volume, and creating the instance
//   again starts it on that state; only `destroy` removes the container and its volume;
// - nothing lives in the manager: the containers are found by their labels, so a restarted manager re-adopts the
//   running ones as they are and starts again the ones that stopped meanwhile (a reboot, an engine restart).
// Closing the layer leaves the agents running, as on Railway. The runtime's env comes from the pool's config
// (../runtimeEnv.ts), shared with the local and Railway layers.
import { Effect, Layer } from "effect"
import { ProviderError } from "../../../domain/errors.ts"
import { resourcePrefix } from "../../environment.ts"
import { Compute, type ComputeSpec, type ComputeState, type ComputeStatus } from "../Compute.ts"
import { tailOf } from "../logTail.ts"
import { freePort } from "../local/processes.ts"
import { remoteServicesProblem, requireRemoteReachableNetwork, runtimeBootEnv } from "../runtimeEnv.ts"
import { type ContainerCreateBody, type ContainerSummary, makeDockerEngine } from "./engine.ts"
import { containerLogs } from "./logs.ts"
import { dockerSettingsFromEnv, type DockerSettings } from "./settings.ts"
import { dockerTransport, type DockerTransport } from "./transport.ts"

export { type DockerSettings, dockerSettingsFromEnv } from "./settings.ts"
export { dockerTransport } from "./transport.ts"

export const LABEL_ENVIRONMENT = "convos.pool.environment"
export const LABEL_INSTANCE = "convos.instance.id"
/** Host network only: the port the agent listens on (kept with the container, so its URL survives a restart). */
export const LABEL_PORT = "convos.agent.port"
/** Where the runtime listens in a container network (the image's PORT). */
const CONTAINER_PORT = 8080
/** Restarts after a crash before the engine gives up (then the pool sees it failed), like local compute's 5. */
const MAX_RESTARTS = 5

export interface DockerComputeOptions {
  /** Env every agent gets on top of the pool's runtime env (a devnet URL the pool knows); the spec's env wins. */
  readonly baseEnv?: Readonly<Record<string, string>>
  /** Tests: talk to this engine instead of DOCKER_HOST's. */
  readonly transport?: DockerTransport
}

const SAFE_ID = /^[A-Za-z0-9_-]+$/
const fail = (operation: string, message: string) =>
  new ProviderError({ provider: "docker", operation, status: null, retryable: false, message })

/** Engine state → the pool's view. Readiness is the pool's own GET /pool/health; `running` only means the process is up. */
export const stateOf = (state: string): ComputeState => {
  switch (state) {
    case "running":
      return "running"
    case "created":
    case "restarting":
      return "starting"
    case "paused":
      return "sleeping"
    case "removing":
      return "gone"
    default: // exited, dead (or an engine's own word): it is not running and will not by itself
      return "failed"
  }
}

export const makeDockerCompute = (settings: DockerSettings, options: DockerComputeOptions = {}) =>
  Effect.gen(function* () {
    const transport = options.transport ?? dockerTransport(settings.host)
    const engine = makeDockerEngine(transport)
    const hostNetwork = settings.network === "host"
    const prefix = `${resourcePrefix(settings.environment)}agent-`
    const containerName = (instanceId: string) => `${prefix}${instanceId}`
    const volumeName = (container: string) => `${container}-data`
    const ours = [`${LABEL_ENVIRONMENT}=${settings.environment}`]

    yield* engine.ping.pipe(
      Effect.mapError((e) =>
        fail(
          "connect",
          `Cannot reach the Docker engine at ${transport.describe} (${e.message}). Start it (or podman system service --time=0 unix:///run/podman/podman.sock) and set DOCKER_HOST to its socket.`,
        ),
      ),
    )
    if (!(yield* engine.imageExists(settings.image))) {
      return yield* fail(
        "image",
        `The agent image ${settings.image} is not on the Docker engine at ${transport.describe}: build it with \`npm run image:runtime\`, or pull yours and set DOCKER_RUNTIME_IMAGE.`,
      )
    }
    const bootEnv = yield* runtimeBootEnv({ devnetUrl: options.baseEnv?.DEVNET_URL ?? null })
    if (!hostNetwork) {
      // On a container network this machine's loopback is the container's own: a loopback devnet or pool URL is unreachable.
      yield* Effect.try({
        try: () => requireRemoteReachableNetwork(bootEnv, `Docker (DOCKER_NETWORK=${settings.network})`),
        catch: (e) => fail("config", (e as Error).message),
      })
      const servicesProblem = remoteServicesProblem(bootEnv, `Docker (DOCKER_NETWORK=${settings.network})`)
      if (servicesProblem)
        yield* Effect.logWarning(
          `docker compute: ${servicesProblem.replace("public https URL", "URL as the agents reach it, e.g. http://manager:8080")}`,
        )
    }

    const urlOf = (name: string, labels: Readonly<Record<string, string>> | null) =>
      hostNetwork
        ? labels?.[LABEL_PORT]
          ? `http://127.0.0.1:${labels[LABEL_PORT]}`
          : null
        : `http://${name}:${CONTAINER_PORT}`

    // A previous manager's agents: the running ones are simply used; the stopped ones start again on their volume.
    const found = yield* engine.list(ours)
    for (const c of found.filter((c) => c.State === "exited" || c.State === "created")) {
      const name = nameOf(c)
      const started = yield* engine.start(name).pipe(Effect.result)
      if (started._tag === "Success")
        yield* Effect.logInfo(`docker compute: started agent container ${name} again on its volume`)
      else yield* Effect.logWarning(`docker compute: agent container ${name} stays stopped: ${started.failure.message}`)
    }
    if (found.length > 0)
      yield* Effect.logInfo(
        `docker compute: re-adopted ${found.length} agent container(s) of environment ${settings.environment}`,
      )

    const containerBody = (spec: ComputeSpec, name: string, port: number | null): ContainerCreateBody => {
      const env: Record<string, string> = {
        ...bootEnv,
        ...Object.fromEntries(Object.entries(options.baseEnv ?? {}).filter(([k]) => k !== "DEVNET_URL")),
        ...spec.env,
        INSTANCE_ID: spec.instanceId,
        INSTANCE_TOKEN: spec.instanceToken,
        // Host network: loopback only (the manager is on this machine); a container network: reachable by name.
        GATEWAY_BIND: hostNetwork ? "loopback" : "lan",
        PORT: String(port ?? CONTAINER_PORT),
      }
      const labels = {
        [LABEL_ENVIRONMENT]: settings.environment,
        [LABEL_INSTANCE]: spec.instanceId,
        ...(port === null ? {} : { [LABEL_PORT]: String(port) }),
      }
      return {
        Image: settings.image,
        Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
        Labels: labels,
        HostConfig: {
          Memory: settings.memoryBytes,
          NanoCpus: settings.nanoCpus,
          NetworkMode: settings.network,
          Mounts: [{ Type: "volume", Source: volumeName(name), Target: "/data" }],
          RestartPolicy: { Name: "on-failure", MaximumRetryCount: MAX_RESTARTS },
        },
      }
    }

    const create = (spec: ComputeSpec) =>
      Effect.gen(function* () {
        if (!SAFE_ID.test(spec.instanceId))
          return yield* fail("create", `instance id "${spec.instanceId}" must be [A-Za-z0-9_-]`)
        const name = containerName(spec.instanceId)
        // The same instance again (a retry, or one stopped meanwhile): started on its container and volume.
        const existing = yield* engine.inspect(name)
        if (existing === null) {
          const port = hostNetwork ? yield* Effect.promise(() => freePort()) : null
          const labels = { [LABEL_ENVIRONMENT]: settings.environment, [LABEL_INSTANCE]: spec.instanceId }
          yield* engine.createVolume(volumeName(name), labels)
          const made = yield* engine.create(name, containerBody(spec, name, port)).pipe(
            Effect.catchIf(
              (e) => e.status === 404,
              (e) =>
                Effect.fail(
                  fail(
                    "create",
                    `The agent image ${settings.image} is gone from the engine (${e.message}): build it with \`npm run image:runtime\` or set DOCKER_RUNTIME_IMAGE.`,
                  ),
                ),
            ),
          )
          if (made.status === 409)
            yield* Effect.logInfo(`docker compute: ${name} already exists (an earlier attempt got through); using it`)
        }
        yield* engine.start(name)
        const current = yield* engine.inspect(name)
        return { providerRef: name, providerProjectRef: null, url: urlOf(name, current?.Config.Labels ?? null) }
      })

    const destroy = (providerRef: string) =>
      Effect.gen(function* () {
        // Only this environment's agent containers (never someone else's container or volume).
        if (!providerRef.startsWith(prefix) || !SAFE_ID.test(providerRef.slice(prefix.length))) return
        yield* engine.remove(providerRef)
        yield* engine.removeVolume(volumeName(providerRef))
      })

    const statusBatch = (refs: ReadonlyArray<{ providerRef: string }>) =>
      refs.length === 0
        ? Effect.succeed(new Map<string, ComputeStatus>())
        : engine.list(ours).pipe(
            Effect.map((containers) => {
              const byName = new Map(containers.map((c) => [nameOf(c), c] as const))
              return new Map(
                refs.map(({ providerRef }) => {
                  const c = byName.get(providerRef)
                  const status: ComputeStatus = c
                    ? {
                        providerRef,
                        state: stateOf(c.State),
                        url: urlOf(providerRef, c.Labels),
                        ...(c.State === "running"
                          ? {}
                          : {
                              detail: `container ${providerRef}: ${c.Status ?? c.State}; logs: docker logs ${providerRef}`,
                            }),
                      }
                    : { providerRef, state: "gone", url: null }
                  return [providerRef, status] as const
                }),
              )
            }),
          )

    /**
     * The owner's /restart: the agent's container (stopped past its restart policy) starts again on its volume, with
     * the token and env it was created with. One removed by hand cannot be: its env is gone with it.
     */
    const restart = (providerRef: string) =>
      Effect.gen(function* () {
        if (!providerRef.startsWith(prefix) || !SAFE_ID.test(providerRef.slice(prefix.length)))
          return yield* fail("restart", `"${providerRef}" is not an agent container of this environment`)
        const current = yield* engine.inspect(providerRef)
        if (current === null)
          return yield* fail(
            "restart",
            `Its container ${providerRef} is gone (removed by hand?); its volume is kept, but it cannot start without its container. Release the agent and create a new one.`,
          )
        yield* engine.start(providerRef)
        return { providerRef, providerProjectRef: null, url: urlOf(providerRef, current.Config.Labels ?? null) }
      })

    /**
     * The admin page's log tail: the container's last lines (stdout and stderr) from the engine, cut to `maxBytes` at
     * a line start, secrets masked. Lines are asked for, bytes are shown: an agent's lines are rarely under 32 bytes.
     */
    const logTail = (providerRef: string, maxBytes: number) =>
      Effect.gen(function* () {
        if (!providerRef.startsWith(prefix) || !SAFE_ID.test(providerRef.slice(prefix.length)))
          return yield* fail("logs", `"${providerRef.slice(0, 80)}" is not an agent container of this environment`)
        const current = yield* engine.inspect(providerRef)
        const bytes =
          current === null
            ? null
            : yield* containerLogs(transport, providerRef, Math.ceil(maxBytes / 32), current.Config.Tty === true)
        if (bytes === null)
          return `(no container ${providerRef} on the Docker engine: it was removed, and its log with it)`
        return tailOf(bytes, maxBytes)
      })

    /**
     * The rolling upgrade: the agent's container is removed (its volume, the agent's state, stays) and created again
     * from DOCKER_RUNTIME_IMAGE as it is now, with its token and labels (its port) and the boot env of the pool as it is
     * now (not the old container's env as a whole: that has the old image's own variables merged in), then started.
     */
    const upgrade = (providerRef: string) =>
      Effect.gen(function* () {
        if (!providerRef.startsWith(prefix) || !SAFE_ID.test(providerRef.slice(prefix.length)))
          return yield* fail("upgrade", `"${providerRef}" is not an agent container of this environment`)
        const current = yield* engine.inspect(providerRef)
        const token = current?.Config.Env?.find((e) => e.startsWith("INSTANCE_TOKEN="))?.slice("INSTANCE_TOKEN=".length)
        if (current === null || !token)
          return yield* fail(
            "upgrade",
            `Its container ${providerRef} is gone (removed by hand?) or has no INSTANCE_TOKEN; its volume is kept, but it cannot be created again without its token. Release the agent and create a new one.`,
          )
        const labels = current.Config.Labels ?? {}
        const port = labels[LABEL_PORT] ? Number(labels[LABEL_PORT]) : null
        const instanceId = labels[LABEL_INSTANCE] ?? providerRef.slice(prefix.length)
        yield* engine.remove(providerRef)
        yield* engine.create(providerRef, {
          ...containerBody({ instanceId, instanceToken: token, env: {} }, providerRef, port),
          Labels: labels,
        })
        yield* engine.start(providerRef)
        return { providerRef, providerProjectRef: null, url: urlOf(providerRef, labels) }
      })

    return Compute.of({ name: "docker", create, destroy, restart, upgrade, statusBatch, logTail })
  })

/** A container's name as the list call gives it ("/name"). */
const nameOf = (c: ContainerSummary) => (c.Names[0] ?? c.Id).replace(/^\//, "")

export const dockerComputeLayer = (settings: DockerSettings, options?: DockerComputeOptions) =>
  Layer.effect(Compute, makeDockerCompute(settings, options))

/** From the environment (settings.ts): COMPUTE=docker. */
export const dockerComputeLayerFromEnv = (options?: DockerComputeOptions) =>
  Layer.unwrap(Effect.map(dockerSettingsFromEnv, (settings) => dockerComputeLayer(settings, options)))
