import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Redacted } from "effect"
import { Compute } from "../compute/Compute.ts"
import { fakeApi } from "../http/testing.ts"
import { railwayApi, railwayToken } from "./fake.ts"
import { railwayComputeLayerFromEnv, railwayComputeLive, type RailwaySettings } from "./RailwayCompute.ts"

const http = { baseDelay: "5 millis", timeout: "500 millis", retries: 2 } as const
const sent = (requests: Array<{ body: unknown }>, op: string) => requests.filter((r) => (r.body as { query: string }).query.includes(op)).length
const perAgent = (url: string) =>
  railwayComputeLive({ token: Redacted.make(railwayToken), url: `${url}/graphql/v2`, image: "ghcr.io/example/runtime:test", startCommand: "node dist/server.js", layout: { _tag: "perAgent", workspaceId: "team-1" }, http })
const shared = (url: string, layout: RailwaySettings["layout"]) =>
  railwayComputeLive({ token: Redacted.make(railwayToken), url: `${url}/graphql/v2`, image: "img:1", startCommand: null, layout, http })

const spec = { instanceId: "i1", instanceToken: "tok-secret-i1", env: { XMTP_ENV: "dev", OPENROUTER_API_KEY: "sk-or-v1-x" } }

describe("RailwayCompute", () => {
  it.live("create: service without source → volume /data → domain → one atomic patch with image and variables", () =>
    Effect.gen(function* () {
      const fake = railwayApi()
      const api = yield* fakeApi(fake.handle)
      const compute = yield* Effect.provide(Effect.service(Compute), perAgent(api.url))
      const handle = yield* compute.create(spec)
      expect(fake.ops).toEqual(["projectCreate", "serviceCreate", "volumeCreate", "serviceDomainCreate", "environmentPatchCommit"])
      const svc = fake.services.get(handle.providerRef)!
      expect(handle).toEqual({ providerRef: svc.id, providerProjectRef: svc.projectId, url: `https://${svc.id}.up.railway.app` })
      expect(svc.volumes).toHaveLength(1)
      expect(svc.patch).toEqual({
        image: "ghcr.io/example/runtime:test",
        startCommand: "node dist/server.js",
        variables: { GATEWAY_BIND: { value: "lan" }, XMTP_ENV: { value: "dev" }, OPENROUTER_API_KEY: { value: "sk-or-v1-x" }, INSTANCE_ID: { value: "i1" }, INSTANCE_TOKEN: { value: "tok-secret-i1" } },
      })
      expect(api.requests[0].body).toMatchObject({ variables: { input: { name: "convos-agent-i1", workspaceId: "team-1" } } })
      expect(api.requests.every((r) => r.headers.authorization === `Bearer ${railwayToken}` && r.headers["content-type"] === "application/json")).toBe(true)
    }).pipe(Effect.scoped)
  )

  it.live("a create failing halfway (volume 500) deletes the project; the non-idempotent volumeCreate is not retried", () =>
    Effect.gen(function* () {
      const fake = railwayApi()
      const api = yield* fakeApi((r) => ((r.body as { query: string }).query.includes("volumeCreate") ? { status: 500, json: { message: "upstream" } } : fake.handle(r)))
      const compute = yield* Effect.provide(Effect.service(Compute), perAgent(api.url))
      const error = yield* Effect.flip(compute.create(spec))
      expect(error).toMatchObject({ provider: "railway", operation: "create volume", status: 500, retryable: true })
      expect(error.message).toContain("not retried")
      expect(sent(api.requests, "volumeCreate")).toBe(1)
      expect(fake.ops.at(-1)).toBe("projectDelete")
      expect(fake.projects.size).toBe(0)
    }).pipe(Effect.scoped)
  )

  it.live("statusBatch: many projects in ONE request; deleted ones come back gone", () =>
    Effect.gen(function* () {
      const fake = railwayApi()
      const api = yield* fakeApi(fake.handle)
      const compute = yield* Effect.provide(Effect.service(Compute), perAgent(api.url))
      const handles = yield* Effect.forEach(["a", "b", "c"], (id) => compute.create({ ...spec, instanceId: id }))
      fake.services.get(handles[0].providerRef)!.deployStatus = "SUCCESS"
      fake.services.get(handles[1].providerRef)!.deployStatus = "CRASHED"
      fake.projects.delete(handles[2].providerProjectRef!)
      const before = api.requests.length
      const statuses = yield* compute.statusBatch([...handles, { providerRef: "svc-unknown", providerProjectRef: null }])
      expect(api.requests.length - before).toBe(1)
      expect(statuses.get(handles[0].providerRef)).toMatchObject({ state: "running", url: `https://${handles[0].providerRef}.up.railway.app` })
      expect(statuses.get(handles[1].providerRef)).toMatchObject({ state: "failed", detail: "deploy CRASHED" })
      expect(statuses.get(handles[2].providerRef)?.state).toBe("gone")
      expect(statuses.get("svc-unknown")?.state).toBe("gone")
    }).pipe(Effect.scoped)
  )

  it.live("shared project: create puts the service in it; status of all is one query; destroy deletes the service", () =>
    Effect.gen(function* () {
      const fake = railwayApi()
      const p = fake.addProject("pool")
      const api = yield* fakeApi(fake.handle)
      const compute = yield* Effect.provide(Effect.service(Compute), shared(api.url, { _tag: "shared", projectId: p.id, environmentId: p.envId }))
      const handles = yield* Effect.forEach(["s1", "s2", "s3", "s4"], (id) => compute.create({ ...spec, instanceId: id }))
      expect(fake.ops.filter((o) => o === "projectCreate")).toHaveLength(0)
      const before = api.requests.length
      const statuses = yield* compute.statusBatch(handles)
      expect(api.requests.length - before).toBe(1)
      expect([...statuses.values()].map((s) => s.state)).toEqual(["starting", "starting", "starting", "starting"])
      yield* compute.destroy(handles[0].providerRef)
      expect(fake.services.has(handles[0].providerRef)).toBe(false)
      expect(fake.projects.has(p.id)).toBe(true)
    }).pipe(Effect.scoped)
  )

  it.live("destroy retries a 429 on projectDelete; destroying what is gone is a no-op", () =>
    Effect.gen(function* () {
      const fake = railwayApi()
      let throttled = 1
      const api = yield* fakeApi((r) =>
        (r.body as { query: string }).query.includes("projectDelete") && throttled-- > 0 ? { status: 429, headers: { "retry-after": "0" }, json: { message: "rate limited" } } : fake.handle(r)
      )
      const compute = yield* Effect.provide(Effect.service(Compute), perAgent(api.url))
      const h = yield* compute.create(spec)
      yield* compute.destroy(h.providerRef)
      expect(sent(api.requests, "projectDelete")).toBe(2)
      expect(fake.projects.size).toBe(0)
      yield* compute.destroy(h.providerRef)
      expect(sent(api.requests, "projectDelete")).toBe(2)
    }).pipe(Effect.scoped)
  )

  it.live("a GraphQL error (bad token) is not retried and says what failed, without the token", () =>
    Effect.gen(function* () {
      const fake = railwayApi()
      const api = yield* fakeApi(fake.handle)
      const compute = yield* Effect.provide(
        Effect.service(Compute),
        railwayComputeLive({ token: Redacted.make("wrong-token-1234"), url: `${api.url}/graphql/v2`, image: "i", startCommand: null, layout: { _tag: "perAgent", workspaceId: "t" }, http })
      )
      const error = yield* Effect.flip(compute.create(spec))
      expect(api.requests).toHaveLength(1)
      expect(error).toMatchObject({ retryable: false, operation: "create project" })
      expect(error.message).toContain("Not Authorized")
    }).pipe(Effect.scoped)
  )

  it.live("layerFromEnv: the pool's runtime env (XMTP_ENV, model endpoint and id) lands in the create mutation, with our image", () =>
    Effect.gen(function* () {
      const fake = railwayApi()
      const api = yield* fakeApi(fake.handle)
      const config = ConfigProvider.layer(ConfigProvider.fromUnknown({
        RAILWAY_API_TOKEN: railwayToken,
        RAILWAY_API_URL: `${api.url}/graphql/v2`,
        RAILWAY_TEAM_ID: "team-env",
        RAILWAY_RUNTIME_IMAGE: "ghcr.io/our-org/convos-agent-runtime:1.2.3",
        XMTP_ENV: "production",
        OPENROUTER_BASE_URL: "https://openrouter.ai",
        OPENCLAW_PRIMARY_MODEL: "anthropic/claude-sonnet-4-6",
        OPENROUTER_MANAGEMENT_KEY: "sk-or-mgmt-never-on-agents",
      }))
      const compute = yield* Effect.provide(Effect.service(Compute), railwayComputeLayerFromEnv.pipe(Layer.provide(config)))
      const handle = yield* compute.create({ instanceId: "env1", instanceToken: "tok-env1", env: {} }) // what the pool sends
      const patch = fake.services.get(handle.providerRef)!.patch!
      expect(patch.image).toBe("ghcr.io/our-org/convos-agent-runtime:1.2.3")
      expect(patch.variables).toEqual({
        XMTP_ENV: { value: "production" },
        OPENROUTER_BASE_URL: { value: "https://openrouter.ai/api/v1" },
        OPENCLAW_PRIMARY_MODEL: { value: "anthropic/claude-sonnet-4-6" },
        GATEWAY_BIND: { value: "lan" },
        INSTANCE_ID: { value: "env1" },
        INSTANCE_TOKEN: { value: "tok-env1" },
      })
      const mutation = api.requests.find((r) => (r.body as { query: string }).query.includes("environmentPatchCommit"))!
      expect(JSON.stringify(mutation.body)).toContain('"XMTP_ENV":{"value":"production"}')
      expect(JSON.stringify(api.requests.map((r) => r.body))).not.toContain("sk-or-mgmt-never-on-agents")
    }).pipe(Effect.scoped)
  )

  it.effect("layerFromEnv refuses to start without our image, or with agents that could not reach the messaging network", () =>
    Effect.gen(function* () {
      const start = (vars: Record<string, string>) =>
        Effect.exit(Effect.provide(Effect.service(Compute), railwayComputeLayerFromEnv.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(vars))))))
      const base = { RAILWAY_API_TOKEN: "t", RAILWAY_TEAM_ID: "team" }
      const noImage = yield* start({ ...base, XMTP_ENV: "dev" })
      expect(String(noImage)).toContain("RAILWAY_RUNTIME_IMAGE")
      expect(String(noImage)).toContain("runtime/Dockerfile")
      const noNetwork = yield* start({ ...base, RAILWAY_RUNTIME_IMAGE: "img:1" })
      expect(String(noNetwork)).toContain("set XMTP_ENV=dev or XMTP_ENV=production")
      const loopbackDevnet = yield* start({ ...base, RAILWAY_RUNTIME_IMAGE: "img:1", DEVNET_URL: "http://127.0.0.1:5557" })
      expect(String(loopbackDevnet)).toContain("cannot reach this machine's devnet")
      const ok = yield* start({ ...base, RAILWAY_RUNTIME_IMAGE: "img:1", XMTP_ENV: "dev" })
      expect(ok._tag).toBe("Success")
    })
  )

  it.live("projectCreate timing out after Railway made the project: looked up by name, never created twice", () =>
    Effect.gen(function* () {
      const fake = railwayApi()
      let slow = 1
      // the project is made, but the answer comes after the client gave up (timeout 500 ms)
      const api = yield* fakeApi((r) => {
        const reply = fake.handle(r)
        return (r.body as { query: string }).query.includes("projectCreate") && slow-- > 0 ? { ...reply, delayMs: 1_500 } : reply
      })
      const compute = yield* Effect.provide(Effect.service(Compute), perAgent(api.url))
      const handle = yield* compute.create(spec)
      expect(sent(api.requests, "projectCreate")).toBe(1)
      expect(fake.projects.size).toBe(1)
      expect(handle.providerProjectRef).toBe([...fake.projects.keys()][0])
      expect(fake.services.get(handle.providerRef)?.patch?.image).toBe("ghcr.io/example/runtime:test")
    }).pipe(Effect.scoped)
  )

  it.live("serviceCreate 500 before anything was made: nothing found by name, so it is created again (once)", () =>
    Effect.gen(function* () {
      const fake = railwayApi()
      let failing = 1
      const api = yield* fakeApi((r) =>
        (r.body as { query: string }).query.includes("serviceCreate") && failing-- > 0 ? { status: 502, json: { message: "bad gateway" } } : fake.handle(r)
      )
      const compute = yield* Effect.provide(Effect.service(Compute), perAgent(api.url))
      const handle = yield* compute.create(spec)
      expect(sent(api.requests, "serviceCreate")).toBe(2)
      expect(sent(api.requests, "services {")).toBe(1) // looked up between the two
      expect([...fake.services.values()].filter((s) => s.name === "convos-agent-i1")).toHaveLength(1)
      expect(fake.services.has(handle.providerRef)).toBe(true)
    }).pipe(Effect.scoped)
  )

  it.live("a failed create deletes every service of that name, not only the last id (shared project)", () =>
    Effect.gen(function* () {
      const fake = railwayApi()
      const p = fake.addProject("pool")
      let lost = 1
      // serviceCreate: made, answer lost (500); the lookup finds it; then the volume fails
      const api = yield* fakeApi((r) => {
        const q = (r.body as { query: string }).query
        if (q.includes("volumeCreate")) return { status: 400, json: { errors: [{ message: "bad volume" }] } }
        const reply = fake.handle(r)
        return q.includes("serviceCreate") && lost-- > 0 ? { status: 500, json: { message: "lost" } } : reply
      })
      const compute = yield* Effect.provide(Effect.service(Compute), shared(api.url, { _tag: "shared", projectId: p.id, environmentId: p.envId }))
      // a copy left by an earlier lost answer of the same create
      fake.services.set("svc-old", { id: "svc-old", name: "convos-agent-i1", projectId: p.id, volumes: [], domain: null, patch: null, deployStatus: null })
      yield* Effect.flip(compute.create(spec))
      expect(sent(api.requests, "serviceCreate")).toBe(1)
      expect([...fake.services.values()].filter((s) => s.name === "convos-agent-i1")).toHaveLength(0)
      expect(fake.projects.has(p.id)).toBe(true)
    }).pipe(Effect.scoped)
  )

  it.live("a malformed answer is not retried, and the project it may have made is deleted by name", () =>
    Effect.gen(function* () {
      const fake = railwayApi()
      const api = yield* fakeApi((r) => {
        const reply = fake.handle(r)
        return (r.body as { query: string }).query.includes("projectCreate") ? { raw: "<html>502 Bad Gateway</html>" } : reply
      })
      const compute = yield* Effect.provide(Effect.service(Compute), perAgent(api.url))
      const error = yield* Effect.flip(compute.create(spec))
      expect(error).toMatchObject({ provider: "railway", operation: "create project", retryable: false })
      expect(error.message).toContain("not JSON")
      expect(sent(api.requests, "projectCreate")).toBe(1)
      expect(fake.projects.size).toBe(0)
    }).pipe(Effect.scoped)
  )

  it.live("statusBatch: a partial GraphQL error makes that project's instances unknown, never gone", () =>
    Effect.gen(function* () {
      const fake = railwayApi()
      const api = yield* fakeApi(fake.handle)
      const compute = yield* Effect.provide(Effect.service(Compute), perAgent(api.url))
      const [a, b, c] = yield* Effect.forEach(["a", "b", "c"], (id) => compute.create({ ...spec, instanceId: id }))
      fake.services.get(a.providerRef)!.deployStatus = "SUCCESS"
      fake.projects.delete(c.providerProjectRef!) // really deleted: Railway says "Project not found"
      // Railway fails the alias of b's project with an internal error (data null for it, the others answered)
      api.setHandler((r) => {
        const reply = fake.handle(r) as { json: { data: Record<string, unknown>; errors?: Array<unknown> } }
        const q = (r.body as { query: string; variables: Record<string, string> })
        const alias = Object.entries(q.variables).find(([, v]) => v === b.providerProjectRef)?.[0]?.replace("v", "a")
        if (!alias || !q.query.includes("services(first")) return reply
        return { json: { data: { ...reply.json.data, [alias]: null }, errors: [...(reply.json.errors ?? []), { message: "Internal server error", path: [alias] }] } }
      })
      const statuses = yield* compute.statusBatch([a, b, c])
      expect(statuses.get(a.providerRef)?.state).toBe("running")
      expect(statuses.get(b.providerRef)?.state).toBe("unknown")
      expect(statuses.get(c.providerRef)?.state).toBe("gone")
    }).pipe(Effect.scoped)
  )

  it.live("statusBatch pages through a project's services (more than one page)", () =>
    Effect.gen(function* () {
      const fake = railwayApi({ pageSize: 2 })
      const p = fake.addProject("pool")
      const api = yield* fakeApi(fake.handle)
      const compute = yield* Effect.provide(
        Effect.service(Compute),
        railwayComputeLive({ token: Redacted.make(railwayToken), url: `${api.url}/graphql/v2`, image: "img:1", startCommand: null, layout: { _tag: "shared", projectId: p.id, environmentId: p.envId }, statusPageSize: 2, http })
      )
      const handles = yield* Effect.forEach(["p1", "p2", "p3", "p4", "p5"], (id) => compute.create({ ...spec, instanceId: id }))
      for (const h of handles) fake.services.get(h.providerRef)!.deployStatus = "SUCCESS"
      const before = api.requests.length
      const statuses = yield* compute.statusBatch(handles)
      expect(api.requests.length - before).toBe(3) // first page in the batch + 2 more pages
      expect(handles.map((h) => statuses.get(h.providerRef)?.state)).toEqual(["running", "running", "running", "running", "running"])
    }).pipe(Effect.scoped)
  )

  it.effect("without RAILWAY_API_TOKEN every call says what to set", () =>
    Effect.gen(function* () {
      const compute = yield* Compute
      const error = yield* Effect.flip(compute.create(spec))
      expect(error.message).toContain("set RAILWAY_API_TOKEN")
    }).pipe(Effect.provide(railwayComputeLayerFromEnv.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({}))))))
  )
})
