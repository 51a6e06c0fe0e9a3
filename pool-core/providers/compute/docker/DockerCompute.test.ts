import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import { Compute } from "../Compute.ts"
import { dockerComputeLayer, LABEL_ENVIRONMENT, LABEL_INSTANCE, LABEL_PORT } from "./DockerCompute.ts"
import { type DockerSettings } from "./settings.ts"
import { fakeDockerEngine } from "./testing/fakeEngine.ts"
import { dockerTransport } from "./transport.ts"

// Docker compute against an in-memory engine on a unix socket that checks every request against the published Docker
// Engine API (testing/fakeEngine.ts, openapi.json). The real engine (podman) runs the same flow in docker-real.test.ts.

const IMAGE = "convos-agent-runtime:test"
const settingsFor = (host: string, overrides: Partial<DockerSettings> = {}): DockerSettings => ({
  host,
  image: IMAGE,
  memoryBytes: 1536 * 1024 ** 2,
  nanoCpus: 1_500_000_000,
  network: "host",
  environment: "test",
  ...overrides,
})
/** The pool's config as the agents' boot env reads it (no process.env leaking in). */
const poolConfig = ConfigProvider.layer(
  ConfigProvider.fromUnknown({ XMTP_ENV: "dev", POOL_PUBLIC_URL: "https://pool.example.com" }),
)
const computeOn = (settings: DockerSettings) =>
  Effect.provide(Effect.service(Compute), dockerComputeLayer(settings).pipe(Layer.provide(poolConfig)))
const spec = (id: string) => ({ instanceId: id, instanceToken: `tok-${id}`, env: { OPENROUTER_API_KEY: "sk-or-v1-x" } })
const requestsTo = (requests: ReadonlyArray<{ method: string; path: string }>, method: string, pattern: RegExp) =>
  requests.filter((r) => r.method === method && pattern.test(r.path.split("?")[0]!)).length

describe("DockerCompute", () => {
  it.live(
    "create: a volume, then one container from the runtime image with the limits, labels, env and /data mount; then started",
    () =>
      Effect.gen(function* () {
        const engine = yield* fakeDockerEngine([IMAGE])
        const compute = yield* computeOn(settingsFor(engine.host))
        const handle = yield* compute.create(spec("i1"))
        const c = engine.state.containers.get("convos-test-agent-i1")!
        expect(handle).toEqual({
          providerRef: "convos-test-agent-i1",
          providerProjectRef: null,
          url: `http://127.0.0.1:${c.labels[LABEL_PORT]}`,
        })
        expect(c.state).toBe("running")
        expect(c.image).toBe(IMAGE)
        expect(c.labels).toMatchObject({ [LABEL_ENVIRONMENT]: "test", [LABEL_INSTANCE]: "i1" })
        expect(c.hostConfig).toEqual({
          Memory: 1536 * 1024 ** 2,
          NanoCpus: 1_500_000_000,
          NetworkMode: "host",
          Mounts: [{ Type: "volume", Source: "convos-test-agent-i1-data", Target: "/data" }],
          RestartPolicy: { Name: "on-failure", MaximumRetryCount: 5 },
        })
        expect(c.env).toEqual(
          expect.arrayContaining([
            "XMTP_ENV=dev",
            "POOL_SERVICES_URL=https://pool.example.com",
            "OPENROUTER_API_KEY=sk-or-v1-x",
            "INSTANCE_ID=i1",
            "INSTANCE_TOKEN=tok-i1",
            "GATEWAY_BIND=loopback",
            `PORT=${c.labels[LABEL_PORT]}`,
          ]),
        )
        expect([...engine.state.volumes.keys()]).toEqual(["convos-test-agent-i1-data"])
        expect(engine.violations).toEqual([])
      }).pipe(Effect.scoped),
  )

  it.live(
    "on a container network (Docker Compose) agents listen on 8080 for everyone on it and are reached by name",
    () =>
      Effect.gen(function* () {
        const engine = yield* fakeDockerEngine([IMAGE])
        const compute = yield* computeOn(settingsFor(engine.host, { network: "convos" }))
        const handle = yield* compute.create(spec("i1"))
        const c = engine.state.containers.get(handle.providerRef)!
        expect(handle.url).toBe("http://convos-test-agent-i1:8080")
        expect(c.hostConfig.NetworkMode).toBe("convos")
        expect(c.env).toEqual(expect.arrayContaining(["GATEWAY_BIND=lan", "PORT=8080"]))
        expect(LABEL_PORT in c.labels).toBe(false)
        expect(engine.violations).toEqual([])
      }).pipe(Effect.scoped),
  )

  it.live(
    "status of every agent is one list call filtered by the environment label; other environments' containers are not seen",
    () =>
      Effect.gen(function* () {
        const engine = yield* fakeDockerEngine([IMAGE])
        const compute = yield* computeOn(settingsFor(engine.host))
        const other = yield* computeOn(settingsFor(engine.host, { environment: "staging" }))
        const [a, b] = [yield* compute.create(spec("a")), yield* compute.create(spec("b"))]
        const theirs = yield* other.create(spec("c"))
        engine.state.exit(b.providerRef, 1)
        const before = engine.requests.length
        const status = yield* compute.statusBatch([
          a,
          b,
          { providerRef: "convos-test-agent-never", providerProjectRef: null },
          theirs,
        ])
        expect(engine.requests.length - before).toBe(1)
        expect(engine.requests.at(-1)!.path).toContain(
          encodeURIComponent(JSON.stringify({ label: [`${LABEL_ENVIRONMENT}=test`] })),
        )
        expect(status.get(a.providerRef)).toEqual({ providerRef: a.providerRef, state: "running", url: a.url })
        expect(status.get(b.providerRef)).toMatchObject({
          state: "failed",
          url: b.url,
          detail: expect.stringContaining("Exited (1)"),
        })
        expect(status.get("convos-test-agent-never")).toEqual({
          providerRef: "convos-test-agent-never",
          state: "gone",
          url: null,
        })
        expect(status.get(theirs.providerRef)?.state).toBe("gone")
        expect(engine.violations).toEqual([])
      }).pipe(Effect.scoped),
  )

  it.live(
    "stop is not destroy: a stopped agent starts again on its container, and one removed by hand gets its volume back",
    () =>
      Effect.gen(function* () {
        const engine = yield* fakeDockerEngine([IMAGE])
        const compute = yield* computeOn(settingsFor(engine.host))
        const first = yield* compute.create(spec("i1"))
        const { id } = engine.state.containers.get(first.providerRef)!
        engine.state.exit(first.providerRef, 0)
        const again = yield* compute.create(spec("i1"))
        expect(again).toEqual(first)
        expect(engine.state.containers.get(first.providerRef)).toMatchObject({ id, state: "running" })
        expect(requestsTo(engine.requests, "POST", /\/containers\/create$/)).toBe(1)
        // Removed by hand (docker rm -f): the volume, and so the agent's identity and conversations, stays.
        engine.state.containers.delete(first.providerRef)
        yield* compute.create(spec("i1"))
        expect(engine.state.containers.get(first.providerRef)!.hostConfig.Mounts).toEqual([
          { Type: "volume", Source: "convos-test-agent-i1-data", Target: "/data" },
        ])
        expect([...engine.state.volumes.keys()]).toEqual(["convos-test-agent-i1-data"])
        expect(engine.violations).toEqual([])
      }).pipe(Effect.scoped),
  )

  it.live(
    "restart (the owner's /restart): a crashed agent's container starts again on its volume; a removed one is refused",
    () =>
      Effect.gen(function* () {
        const engine = yield* fakeDockerEngine([IMAGE])
        const compute = yield* computeOn(settingsFor(engine.host))
        const first = yield* compute.create(spec("i9"))
        const { id } = engine.state.containers.get(first.providerRef)!
        engine.state.exit(first.providerRef, 1)
        const status = yield* compute.statusBatch([{ providerRef: first.providerRef, providerProjectRef: null }])
        expect(status.get(first.providerRef)?.state).not.toBe("running")
        const again = yield* compute.restart!(first.providerRef)
        expect(again).toEqual(first)
        expect(engine.state.containers.get(first.providerRef)).toMatchObject({ id, state: "running" })
        expect(requestsTo(engine.requests, "POST", /\/containers\/create$/)).toBe(1)
        engine.state.containers.delete(first.providerRef)
        const gone = yield* Effect.flip(compute.restart!(first.providerRef))
        expect(gone.message).toContain("is gone")
        expect(yield* Effect.flip(compute.restart!("someone-else"))).toMatchObject({ operation: "restart" })
        expect(engine.violations).toEqual([])
      }).pipe(Effect.scoped),
  )

  it.live(
    "upgrade (the rolling upgrade): the container is created again from the image as it is now, on the same volume, with its token and port",
    () =>
      Effect.gen(function* () {
        const NEXT = "convos-agent-runtime:next"
        const engine = yield* fakeDockerEngine([IMAGE, NEXT])
        const before = yield* computeOn(settingsFor(engine.host))
        const first = yield* before.create(spec("i7"))
        const old = engine.state.containers.get(first.providerRef)!
        // A new runtime image is deployed: the manager starts with it and upgrades the running agent.
        const after = yield* computeOn(settingsFor(engine.host, { image: NEXT }))
        const again = yield* after.upgrade!(first.providerRef)
        expect(again).toEqual(first) // same name, same URL (its port label is kept)
        const now = engine.state.containers.get(first.providerRef)!
        expect(now.id).not.toBe(old.id)
        expect(now).toMatchObject({
          image: NEXT,
          state: "running",
          labels: old.labels,
          hostConfig: { Mounts: old.hostConfig.Mounts },
        })
        expect(now.env).toContain("INSTANCE_TOKEN=tok-i7")
        expect(now.env).toContain("INSTANCE_ID=i7")
        expect([...engine.state.volumes.keys()]).toEqual(["convos-test-agent-i7-data"]) // the agent's state stays
        expect(requestsTo(engine.requests, "DELETE", /\/volumes\//)).toBe(0)
        expect(yield* Effect.flip(after.upgrade!("someone-else"))).toMatchObject({ operation: "upgrade" })
        engine.state.containers.delete(first.providerRef)
        expect((yield* Effect.flip(after.upgrade!(first.providerRef))).message).toContain("is gone")
        expect(engine.violations).toEqual([])
      }).pipe(Effect.scoped),
  )

  it.live(
    "a restarted manager re-adopts its containers by their labels: running ones as they are, stopped ones started again",
    () =>
      Effect.gen(function* () {
        const engine = yield* fakeDockerEngine([IMAGE])
        const settings = settingsFor(engine.host)
        const [a, b] = yield* Effect.scoped(
          Effect.gen(function* () {
            const compute = yield* computeOn(settings)
            return [yield* compute.create(spec("a")), yield* compute.create(spec("b"))] as const
          }),
        )
        // The old layer closed (manager stopped): the agents kept running, as on Railway.
        expect(engine.state.containers.get(a.providerRef)!.state).toBe("running")
        engine.state.exit(b.providerRef, 0) // b stopped meanwhile (a reboot)
        const creates = requestsTo(engine.requests, "POST", /\/containers\/create$/)
        const compute = yield* computeOn(settings)
        const status = yield* compute.statusBatch([a, b])
        expect(status.get(a.providerRef)).toEqual({ providerRef: a.providerRef, state: "running", url: a.url })
        expect(status.get(b.providerRef)).toEqual({ providerRef: b.providerRef, state: "running", url: b.url })
        expect(requestsTo(engine.requests, "POST", /\/containers\/create$/)).toBe(creates)
        expect(engine.violations).toEqual([])
      }).pipe(Effect.scoped),
  )

  it.live(
    "destroy removes the container and its volume; a ref of another environment or a gone one is left alone",
    () =>
      Effect.gen(function* () {
        const engine = yield* fakeDockerEngine([IMAGE])
        const compute = yield* computeOn(settingsFor(engine.host))
        const other = yield* computeOn(settingsFor(engine.host, { environment: "staging" }))
        const mine = yield* compute.create(spec("i1"))
        const theirs = yield* other.create(spec("i1"))
        yield* compute.destroy(mine.providerRef)
        yield* compute.destroy(mine.providerRef) // already gone: done
        yield* compute.destroy(theirs.providerRef)
        yield* compute.destroy("../etc")
        expect([...engine.state.containers.keys()]).toEqual([theirs.providerRef])
        expect([...engine.state.volumes.keys()]).toEqual(["convos-staging-agent-i1-data"])
        expect(engine.violations).toEqual([])
      }).pipe(Effect.scoped),
  )

  it.live("no engine at DOCKER_HOST, or no runtime image on it: the layer fails saying what to start or build", () =>
    Effect.gen(function* () {
      const gone = yield* Effect.flip(computeOn(settingsFor("unix:///tmp/no-such-docker.sock")))
      expect(gone.message).toContain("Cannot reach the Docker engine at unix:///tmp/no-such-docker.sock")
      expect(gone.message).toContain("DOCKER_HOST")
      const engine = yield* fakeDockerEngine(["something-else:1"])
      const noImage = yield* Effect.flip(computeOn(settingsFor(engine.host)))
      expect(noImage.message).toContain(`The agent image ${IMAGE} is not on the Docker engine`)
      expect(noImage.message).toContain("npm run image:runtime")
      expect(engine.violations).toEqual([])
    }).pipe(Effect.scoped),
  )

  it.live(
    "the fake refuses what the real engine refuses: a misspelt create field is a 400 and a contract violation",
    () =>
      Effect.gen(function* () {
        const engine = yield* fakeDockerEngine([IMAGE])
        const transport = dockerTransport(engine.host)
        const res = yield* Effect.promise(() =>
          transport.fetch(`${transport.baseUrl}/v1.41/containers/create?name=x`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ Image: IMAGE, HostConfig: { Memmory: 1 } }),
          }),
        )
        expect(res.status).toBe(400)
        expect(engine.violations.map((v) => v.message)).toEqual([
          expect.stringContaining("body.HostConfig.Memmory is not a field of this API"),
        ])
      }).pipe(Effect.scoped),
  )
})
