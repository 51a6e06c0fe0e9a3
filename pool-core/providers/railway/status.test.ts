import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { providerFault } from "../../domain/errors.ts"
import { expectNothingRefused, railwayOnFake, spec } from "./testing/harness.ts"

// Batched status against the schema-validating fake: Railway's non-null root fields null the whole `data` when one
// project of the batch is gone (GraphQL null propagation), which must cost one more request, never the batch.

const statusRequests = (requests: ReadonlyArray<{ body: unknown }>) =>
  requests.filter((r) => /^query\(\$v0/.test((r.body as { query: string }).query))

describe("RailwayCompute statusBatch", () => {
  it.live(
    "a deleted project in the batch: the others still report, the deleted one is gone (one more request each)",
    () =>
      Effect.gen(function* () {
        const { fake, api, compute } = yield* railwayOnFake()
        const handles = yield* Effect.forEach(["a", "b", "c"], (id) => compute.create({ ...spec, instanceId: id }))
        fake.instanceOf(handles[0].providerRef).deployStatus = "SUCCESS"
        fake.instanceOf(handles[1].providerRef).deployStatus = "CRASHED"
        fake.deleteProject(handles[2].providerProjectRef!)
        const before = api.requests.length
        const statuses = yield* compute.statusBatch([
          ...handles,
          { providerRef: "svc-unknown", providerProjectRef: null },
        ])
        // graphql-js stops at the first non-null root field that fails: each missing one costs one more request
        expect(statusRequests(api.requests.slice(before))).toHaveLength(3)
        expect(statuses.get(handles[0].providerRef)).toMatchObject({
          state: "running",
          url: `https://${handles[0].providerRef}-production.up.railway.app`,
        })
        expect(statuses.get(handles[1].providerRef)).toMatchObject({ state: "failed", detail: "deploy CRASHED" })
        expect(statuses.get(handles[2].providerRef)?.state).toBe("gone")
        expect(statuses.get("svc-unknown")?.state).toBe("gone")
        expectNothingRefused(fake)
      }).pipe(Effect.scoped),
  )

  it.live("all projects present: ONE request for the whole batch", () =>
    Effect.gen(function* () {
      const { fake, api, compute } = yield* railwayOnFake()
      const handles = yield* Effect.forEach(["a", "b", "c"], (id) => compute.create({ ...spec, instanceId: id }))
      const before = api.requests.length
      const statuses = yield* compute.statusBatch(handles)
      expect(api.requests.length - before).toBe(1)
      expect([...handles].map((h) => statuses.get(h.providerRef)?.state)).toEqual(["starting", "starting", "starting"])
      expectNothingRefused(fake)
    }).pipe(Effect.scoped),
  )

  for (const wording of ["Not Authorized", "Not authorized to access this project"])
    it.live(`"${wording}" is never gone: the batch fails with fault unauthorized and reports nothing`, () =>
      Effect.gen(function* () {
        const { fake, compute } = yield* railwayOnFake()
        const handles = yield* Effect.forEach(["a", "b"], (id) => compute.create({ ...spec, instanceId: id }))
        fake.revokeToken("rw_team_token_secret_42")
        fake.setNotAuthorizedMessage(wording)
        const error = yield* Effect.flip(compute.statusBatch(handles))
        expect(providerFault(error)).toBe("unauthorized")
        expect(error.message).toContain(wording)
        expect(error.message).toContain("RAILWAY_API_TOKEN")
      }).pipe(Effect.scoped),
    )

  it.live("an internal error for one project makes its instances unknown, never gone; the others report", () =>
    Effect.gen(function* () {
      const { fake, api, compute } = yield* railwayOnFake()
      const [a, b] = yield* Effect.forEach(["a", "b"], (id) => compute.create({ ...spec, instanceId: id }))
      fake.instanceOf(a.providerRef).deployStatus = "SUCCESS"
      // Railway fails b's project with an internal error: null propagation nulls `data`, the error names b's alias
      api.setHandler(async (r) => {
        const q = r.body as { query: string; variables: Record<string, string> }
        const alias = Object.entries(q.variables ?? {})
          .find(([, v]) => v === b.providerProjectRef)?.[0]
          ?.replace("v", "a")
        if (!alias || !q.query.startsWith("query($v0")) return fake.handle(r)
        return { json: { data: null, errors: [{ message: "Internal server error", path: [alias] }] } }
      })
      const statuses = yield* compute.statusBatch([a, b])
      expect(statuses.get(a.providerRef)?.state).toBe("running")
      expect(statuses.get(b.providerRef)?.state).toBe("unknown")
    }).pipe(Effect.scoped),
  )

  it.live("domain and deployment come from the pool's environment only", () =>
    Effect.gen(function* () {
      const { fake, compute } = yield* railwayOnFake((f) => {
        const p = f.addProject("pool", ["preview", "production"])
        return { layout: { _tag: "shared", projectId: p.id, environmentId: p.environments[1]!.id } }
      })
      const h = yield* compute.create(spec)
      const [preview, production] = [...fake.projects.values()][0]!.environments
      // the same service also runs in another environment (listed first), with its own domain and a failed deploy
      const svc = fake.services.get(h.providerRef)!
      const mine = svc.instances.get(production!.id)!
      svc.instances.clear()
      svc.instances.set(preview!.id, { domain: "other-env.up.railway.app", deployStatus: "FAILED", patch: null })
      svc.instances.set(production!.id, { ...mine, deployStatus: "SUCCESS" })
      const statuses = yield* compute.statusBatch([h])
      expect(statuses.get(h.providerRef)).toMatchObject({
        state: "running",
        url: `https://${h.providerRef}-production.up.railway.app`,
      })
      expectNothingRefused(fake)
    }).pipe(Effect.scoped),
  )

  it.live("NEEDS_APPROVAL is failed with what to do, not starting forever", () =>
    Effect.gen(function* () {
      const { fake, compute } = yield* railwayOnFake()
      const h = yield* compute.create(spec)
      fake.instanceOf(h.providerRef).deployStatus = "NEEDS_APPROVAL"
      const status = (yield* compute.statusBatch([h])).get(h.providerRef)!
      expect(status.state).toBe("failed")
      expect(status.detail).toContain("approve")
    }).pipe(Effect.scoped),
  )

  it.live("statusBatch pages through a project's services (more than one page)", () =>
    Effect.gen(function* () {
      const { fake, api, compute } = yield* railwayOnFake(
        (f) => {
          const p = f.addProject("pool")
          return { layout: { _tag: "shared", projectId: p.id, environmentId: p.environments[0]!.id }, pageSize: 2 }
        },
        { projectCreateWindowMs: 0, pageSize: 2 },
      )
      const handles = yield* Effect.forEach(["p1", "p2", "p3", "p4", "p5"], (id) =>
        compute.create({ ...spec, instanceId: id }),
      )
      for (const h of handles) fake.instanceOf(h.providerRef).deployStatus = "SUCCESS"
      const before = api.requests.length
      const statuses = yield* compute.statusBatch(handles)
      expect(api.requests.length - before).toBe(3) // first page in the batch + 2 more pages
      expect(handles.map((h) => statuses.get(h.providerRef)?.state)).toEqual([
        "running",
        "running",
        "running",
        "running",
        "running",
      ])
      expectNothingRefused(fake)
    }).pipe(Effect.scoped),
  )
})
