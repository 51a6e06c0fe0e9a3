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
        variables: { XMTP_ENV: { value: "dev" }, OPENROUTER_API_KEY: { value: "sk-or-v1-x" }, INSTANCE_ID: { value: "i1" }, INSTANCE_TOKEN: { value: "tok-secret-i1" } },
      })
      expect(api.requests[0].body).toMatchObject({ variables: { input: { name: "convos-agent-i1", workspaceId: "team-1" } } })
      expect(api.requests.every((r) => r.headers.authorization === `Bearer ${railwayToken}` && r.headers["content-type"] === "application/json")).toBe(true)
    }).pipe(Effect.scoped)
  )

  it.live("a create failing halfway (volume keeps failing with 500) deletes the project", () =>
    Effect.gen(function* () {
      const fake = railwayApi()
      const api = yield* fakeApi((r) => ((r.body as { query: string }).query.includes("volumeCreate") ? { status: 500, json: { message: "upstream" } } : fake.handle(r)))
      const compute = yield* Effect.provide(Effect.service(Compute), perAgent(api.url))
      const error = yield* Effect.flip(compute.create(spec))
      expect(error).toMatchObject({ provider: "railway", operation: "create volume", status: 500, retryable: true })
      expect(sent(api.requests, "volumeCreate")).toBe(3) // 1 + 2 retries
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

  it.effect("without RAILWAY_API_TOKEN every call says what to set", () =>
    Effect.gen(function* () {
      const compute = yield* Compute
      const error = yield* Effect.flip(compute.create(spec))
      expect(error.message).toContain("set RAILWAY_API_TOKEN")
    }).pipe(Effect.provide(railwayComputeLayerFromEnv.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({}))))))
  )
})
