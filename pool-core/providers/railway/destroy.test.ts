import { describe, expect, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { providerFault } from "../../domain/errors.ts"
import { railwayToken } from "./testing/fake.ts"
import { expectNothingRefused, railwayOnFake, sent, spec } from "./testing/harness.ts"

// Destroy succeeds only on "deleted" or "not found" (contract 1): volumes go with their service, and a refusal
// ("Not Authorized") fails, so the pool never forgets a service that keeps running and billing.

describe("RailwayCompute destroy", () => {
  it.live("shared project: destroy deletes the service's volume, then the service; other services keep theirs", () =>
    Effect.gen(function* () {
      const { fake, compute } = yield* railwayOnFake((f) => {
        const p = f.addProject("pool")
        return { layout: { _tag: "shared", projectId: p.id, environmentId: p.environments[0]!.id } }
      })
      const [a, b] = yield* Effect.forEach(["s1", "s2"], (id) => compute.create({ ...spec, instanceId: id }))
      expect(fake.volumes.size).toBe(2)
      yield* compute.destroy(a.providerRef)
      expect(fake.services.has(a.providerRef)).toBe(false)
      expect([...fake.volumes.values()].map((v) => v.serviceId)).toEqual([b.providerRef])
      expect(fake.ops.slice(-2)).toEqual(["volumeDelete", "serviceDelete"])
      expectNothingRefused(fake)
    }).pipe(Effect.scoped),
  )

  it.live("project per agent: destroy deletes the project (its service and volume with it)", () =>
    Effect.gen(function* () {
      const { fake, compute } = yield* railwayOnFake()
      const h = yield* compute.create(spec)
      yield* compute.destroy(h.providerRef)
      expect(fake.projects.size).toBe(0)
      expect(fake.volumes.size).toBe(0)
    }).pipe(Effect.scoped),
  )

  for (const wording of ["Not Authorized", "Not authorized to access this service"])
    it.live(`a destroy refused for permissions ("${wording}") fails (fault unauthorized) and deletes nothing`, () =>
      Effect.gen(function* () {
        const { fake, compute } = yield* railwayOnFake()
        const h = yield* compute.create(spec)
        fake.revokeToken(railwayToken)
        fake.setNotAuthorizedMessage(wording)
        const error = yield* Effect.flip(compute.destroy(h.providerRef))
        expect(providerFault(error)).toBe("unauthorized")
        expect(fake.services.has(h.providerRef)).toBe(true)
        expect(fake.projects.size).toBe(1)
      }).pipe(Effect.scoped),
    )

  it.live(
    "a project token: sent as Project-Access-Token, its project and environment asked from Railway; create, status and destroy work",
    () =>
      Effect.gen(function* () {
        let token = ""
        const { fake, api, compute } = yield* railwayOnFake((f) => {
          const p = f.addProject("pool")
          token = f.addProjectToken(p.id, p.environments[0]!.id)
          return {
            token: Redacted.make(token),
            tokenKind: "project",
            layout: { _tag: "shared", projectId: null, environmentId: null },
          }
        })
        const h = yield* compute.create(spec)
        expect(
          api.requests.every(
            (r) => r.headers["project-access-token"] === token && r.headers.authorization === undefined,
          ),
        ).toBe(true)
        expect(sent(api.requests, "projectToken")).toBe(1)
        expect((yield* compute.statusBatch([h])).get(h.providerRef)?.state).toBe("starting")
        yield* compute.destroy(h.providerRef)
        expect(fake.services.size).toBe(0)
        expect(fake.volumes.size).toBe(0)
        expect(sent(api.requests, "projectToken")).toBe(1)
        expectNothingRefused(fake)
      }).pipe(Effect.scoped),
  )
})
