import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Redacted } from "effect"
import { Compute } from "../compute/Compute.ts"
import { fakeApi } from "../http/testing.ts"
import { railwayComputeLayerFromEnv, railwayComputeLive } from "./RailwayCompute.ts"
import { railwayApi, railwayToken } from "./testing/fake.ts"
import { expectNothingRefused, railwayOnFake, sent, spec, testHttp, testSettings } from "./testing/harness.ts"

// The create flow and its failure paths, against the schema-validating fake (testing/fake.ts).

describe("RailwayCompute", () => {
  it.live("create: service without source → volume /data → domain → one atomic patch with image and variables", () =>
    Effect.gen(function* () {
      const { fake, api, compute, settings } = yield* railwayOnFake()
      const handle = yield* compute.create(spec)
      expect(fake.ops).toEqual([
        "projectCreate",
        "serviceCreate",
        "volumeCreate",
        "serviceDomainCreate",
        "environmentPatchCommit",
      ])
      const svc = fake.services.get(handle.providerRef)!
      expect(handle).toEqual({
        providerRef: svc.id,
        providerProjectRef: svc.projectId,
        url: `https://${svc.id}-production.up.railway.app`,
      })
      expect([...fake.volumes.values()].filter((v) => v.serviceId === svc.id).map((v) => v.mountPath)).toEqual([
        "/data",
      ])
      expect(fake.instanceOf(svc.id).patch).toEqual({
        image: settings.image,
        startCommand: "node dist/server.js",
        limits: undefined,
        variables: {
          GATEWAY_BIND: { value: "lan" },
          XMTP_ENV: { value: "dev" },
          OPENROUTER_API_KEY: { value: "sk-or-v1-x" },
          INSTANCE_ID: { value: "i1" },
          INSTANCE_TOKEN: { value: "tok-secret-i1" },
        },
      })
      expect(api.requests[0].body).toMatchObject({
        variables: { input: { name: "convos-test-agent-i1", workspaceId: "team-1" } },
      })
      expect(
        api.requests.every(
          (r) =>
            r.headers.authorization === `Bearer ${railwayToken}` && r.headers["content-type"] === "application/json",
        ),
      ).toBe(true)
      expectNothingRefused(fake)
    }).pipe(Effect.scoped),
  )

  it.live(
    "a create failing halfway (volume 500) deletes the project; the non-idempotent volumeCreate is not retried",
    () =>
      Effect.gen(function* () {
        const fake = railwayApi({ projectCreateWindowMs: 0 })
        const api = yield* fakeApi((r) =>
          (r.body as { query: string }).query.includes("volumeCreate")
            ? { status: 500, json: { message: "upstream" } }
            : fake.handle(r),
        )
        const compute = yield* Effect.provide(Effect.service(Compute), railwayComputeLive(testSettings(api.url)))
        const error = yield* Effect.flip(compute.create(spec))
        expect(error).toMatchObject({ provider: "railway", operation: "create volume", status: 500, retryable: true })
        expect(error.message).toContain("not retried")
        expect(sent(api.requests, "volumeCreate")).toBe(1)
        expect(fake.ops.at(-1)).toBe("projectDelete")
        expect(fake.projects.size).toBe(0)
        expectNothingRefused(fake)
      }).pipe(Effect.scoped),
  )

  it.live("destroy retries a 429 on projectDelete; destroying what is gone is a no-op", () =>
    Effect.gen(function* () {
      const fake = railwayApi({ projectCreateWindowMs: 0 })
      let throttled = 1
      const api = yield* fakeApi((r) =>
        (r.body as { query: string }).query.includes("projectDelete") && throttled-- > 0
          ? { status: 429, headers: { "retry-after": "0" }, json: { message: "rate limited" } }
          : fake.handle(r),
      )
      const compute = yield* Effect.provide(Effect.service(Compute), railwayComputeLive(testSettings(api.url)))
      const h = yield* compute.create(spec)
      yield* compute.destroy(h.providerRef)
      expect(sent(api.requests, "projectDelete")).toBe(2)
      expect(fake.projects.size).toBe(0)
      yield* compute.destroy(h.providerRef)
      expect(sent(api.requests, "projectDelete")).toBe(2)
      expectNothingRefused(fake)
    }).pipe(Effect.scoped),
  )

  it.live("a bad token: not retried, fault unauthorized, says what to check, without the token", () =>
    Effect.gen(function* () {
      const { api, compute } = yield* railwayOnFake({ token: Redacted.make("wrong-token-1234") })
      const error = yield* Effect.flip(compute.create(spec))
      expect(api.requests).toHaveLength(1)
      expect(error).toMatchObject({ retryable: false, operation: "create project", fault: "unauthorized" })
      expect(error.message).toContain("Not Authorized")
      expect(error.message).not.toContain("wrong-token-1234")
    }).pipe(Effect.scoped),
  )

  it.live("layerFromEnv: the pool's runtime env, our image, the limits and POOL_ENVIRONMENT in the names", () =>
    Effect.gen(function* () {
      const fake = railwayApi({ projectCreateWindowMs: 0 })
      const api = yield* fakeApi(fake.handle)
      const config = ConfigProvider.layer(
        ConfigProvider.fromUnknown({
          RAILWAY_API_TOKEN: railwayToken,
          RAILWAY_API_URL: `${api.url}/graphql/v2`,
          RAILWAY_TEAM_ID: "team-1",
          RAILWAY_RUNTIME_IMAGE: `ghcr.io/our-org/convos-agent-runtime@sha256:${"b".repeat(64)}`,
          RAILWAY_ENVIRONMENT_NAME: "staging",
          RAILWAY_AGENT_VCPUS: "3",
          RAILWAY_AGENT_MEMORY_GB: "1.5",
          XMTP_ENV: "production",
          OPENROUTER_BASE_URL: "https://openrouter.ai",
          OPENCLAW_PRIMARY_MODEL: "anthropic/claude-sonnet-4-6",
          OPENROUTER_MANAGEMENT_KEY: "sk-or-mgmt-never-on-agents",
          POOL_PUBLIC_URL: "https://pool.example.com/",
        }),
      )
      const compute = yield* Effect.provide(
        Effect.service(Compute),
        railwayComputeLayerFromEnv.pipe(Layer.provide(config)),
      )
      const handle = yield* compute.create({ instanceId: "env1", instanceToken: "tok-env1", env: {} }) // what the pool sends
      const patch = fake.instanceOf(handle.providerRef).patch!
      expect(patch.image).toBe(`ghcr.io/our-org/convos-agent-runtime@sha256:${"b".repeat(64)}`)
      expect(patch.limits).toEqual({ cpu: 3, memoryBytes: 1.5 * 1024 ** 3 })
      expect(patch.variables).toEqual({
        XMTP_ENV: { value: "production" },
        OPENROUTER_BASE_URL: { value: "https://openrouter.ai/api/v1" },
        OPENCLAW_PRIMARY_MODEL: { value: "anthropic/claude-sonnet-4-6" },
        POOL_SERVICES_URL: { value: "https://pool.example.com" },
        GATEWAY_BIND: { value: "lan" },
        INSTANCE_ID: { value: "env1" },
        INSTANCE_TOKEN: { value: "tok-env1" },
      })
      expect(fake.projects.get(handle.providerProjectRef!)!.name).toBe("convos-staging-agent-env1")
      expect(fake.services.get(handle.providerRef)!.name).toBe("convos-staging-agent-env1")
      expect(JSON.stringify(api.requests.map((r) => r.body))).not.toContain("sk-or-mgmt-never-on-agents")
      expectNothingRefused(fake)
    }).pipe(Effect.scoped),
  )

  it.effect(
    "layerFromEnv refuses to start without our image, or with agents that could not reach the messaging network",
    () =>
      Effect.gen(function* () {
        const start = (vars: Record<string, string>) =>
          Effect.exit(
            Effect.provide(
              Effect.service(Compute),
              railwayComputeLayerFromEnv.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(vars)))),
            ),
          )
        const base = { RAILWAY_API_TOKEN: "t", RAILWAY_TEAM_ID: "team" }
        const noImage = yield* start({ ...base, XMTP_ENV: "dev" })
        expect(String(noImage)).toContain("RAILWAY_RUNTIME_IMAGE")
        expect(String(noImage)).toContain("runtime/Dockerfile")
        const noNetwork = yield* start({ ...base, RAILWAY_RUNTIME_IMAGE: "img:1" })
        expect(String(noNetwork)).toContain("set XMTP_ENV=dev or XMTP_ENV=production")
        const loopbackDevnet = yield* start({
          ...base,
          RAILWAY_RUNTIME_IMAGE: "img:1",
          DEVNET_URL: "http://127.0.0.1:5557",
        })
        expect(String(loopbackDevnet)).toContain("cannot reach this machine's devnet")
        const badLimit = yield* start({
          ...base,
          RAILWAY_RUNTIME_IMAGE: "img:1",
          XMTP_ENV: "dev",
          RAILWAY_AGENT_VCPUS: "0",
        })
        expect(String(badLimit)).toContain("RAILWAY_AGENT_VCPUS must be a positive number")
        const both = yield* start({
          ...base,
          RAILWAY_RUNTIME_IMAGE: "img:1",
          XMTP_ENV: "dev",
          RAILWAY_TOKEN: "project-token",
        })
        expect(String(both)).toContain("not both")
        const ok = yield* start({ ...base, RAILWAY_RUNTIME_IMAGE: "img:1", XMTP_ENV: "dev" })
        expect(ok._tag).toBe("Success")
      }),
  )

  it.live("projectCreate timing out after Railway made the project: looked up by name, never created twice", () =>
    Effect.gen(function* () {
      const fake = railwayApi({ projectCreateWindowMs: 0 })
      let slow = 1
      // the project is made, but the answer comes after the client gave up (timeout 1 s)
      const api = yield* fakeApi(async (r) => {
        const reply = await fake.handle(r)
        return (r.body as { query: string }).query.includes("projectCreate") && slow-- > 0
          ? { ...reply, delayMs: 2_500 }
          : reply
      })
      const compute = yield* Effect.provide(
        Effect.service(Compute),
        railwayComputeLive(testSettings(api.url, { http: { ...testHttp, timeout: "1 second" } })),
      )
      const handle = yield* compute.create(spec)
      expect(sent(api.requests, "projectCreate")).toBe(1)
      expect(fake.projects.size).toBe(1)
      expect(handle.providerProjectRef).toBe([...fake.projects.keys()][0])
      expect(fake.instanceOf(handle.providerRef).patch?.image).toContain("ghcr.io/example/runtime@sha256:")
      expectNothingRefused(fake)
    }).pipe(Effect.scoped),
  )

  it.live("serviceCreate 500 before anything was made: nothing found by name, so it is created again (once)", () =>
    Effect.gen(function* () {
      const fake = railwayApi({ projectCreateWindowMs: 0 })
      let failing = 1
      const api = yield* fakeApi((r) =>
        (r.body as { query: string }).query.includes("serviceCreate") && failing-- > 0
          ? { status: 502, json: { message: "bad gateway" } }
          : fake.handle(r),
      )
      const compute = yield* Effect.provide(Effect.service(Compute), railwayComputeLive(testSettings(api.url)))
      const handle = yield* compute.create(spec)
      expect(sent(api.requests, "serviceCreate")).toBe(2)
      expect(sent(api.requests, "services(first")).toBe(1) // looked up between the two
      expect([...fake.services.values()].filter((s) => s.name === "convos-test-agent-i1")).toHaveLength(1)
      expect(fake.services.has(handle.providerRef)).toBe(true)
      expectNothingRefused(fake)
    }).pipe(Effect.scoped),
  )

  it.live(
    "a failed create deletes every service of that name and their volumes, not only the last id (shared project)",
    () =>
      Effect.gen(function* () {
        const fake = railwayApi({ projectCreateWindowMs: 0 })
        const p = fake.addProject("pool")
        let lost = 1
        // serviceCreate: made, answer lost (500); the lookup finds it; then the domain patch fails
        const api = yield* fakeApi(async (r) => {
          const q = (r.body as { query: string }).query
          if (q.includes("environmentPatchCommit")) return { status: 400, json: { errors: [{ message: "bad patch" }] } }
          const reply = await fake.handle(r)
          return q.includes("serviceCreate") && lost-- > 0 ? { status: 500, json: { message: "lost" } } : reply
        })
        const compute = yield* Effect.provide(
          Effect.service(Compute),
          railwayComputeLive(
            testSettings(api.url, {
              layout: { _tag: "shared", projectId: p.id, environmentId: p.environments[0]!.id },
            }),
          ),
        )
        // a copy left by an earlier lost answer of the same create
        fake.addService(p.id, "convos-test-agent-i1", [p.environments[0]!.id])
        yield* Effect.flip(compute.create(spec))
        expect(sent(api.requests, "serviceCreate")).toBe(1)
        expect([...fake.services.values()].filter((s) => s.name === "convos-test-agent-i1")).toHaveLength(0)
        expect(fake.volumes.size).toBe(0)
        expect(fake.projects.has(p.id)).toBe(true)
        expectNothingRefused(fake)
      }).pipe(Effect.scoped),
  )

  it.live("a malformed answer is not retried, and the project it may have made is deleted by name", () =>
    Effect.gen(function* () {
      const fake = railwayApi({ projectCreateWindowMs: 0 })
      const api = yield* fakeApi(async (r) => {
        const reply = await fake.handle(r)
        return (r.body as { query: string }).query.includes("projectCreate")
          ? { raw: "<html>502 Bad Gateway</html>" }
          : reply
      })
      const compute = yield* Effect.provide(Effect.service(Compute), railwayComputeLive(testSettings(api.url)))
      const error = yield* Effect.flip(compute.create(spec))
      expect(error).toMatchObject({ provider: "railway", operation: "create project", retryable: false })
      expect(error.message).toContain("not JSON")
      expect(sent(api.requests, "projectCreate")).toBe(1)
      expect(fake.projects.size).toBe(0)
      expectNothingRefused(fake)
    }).pipe(Effect.scoped),
  )

  it.effect("without a Railway token every call says what to set", () =>
    Effect.gen(function* () {
      const compute = yield* Compute
      const error = yield* Effect.flip(compute.create(spec))
      expect(error.message).toContain("set RAILWAY_API_TOKEN")
    }).pipe(
      Effect.provide(
        railwayComputeLayerFromEnv.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({})))),
      ),
    ),
  )
})
