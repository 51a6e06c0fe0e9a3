import { Effect, type Scope } from "effect"
import { expect } from "vitest"
import type { Compute, ComputeSpec } from "./Compute.ts"

// What every compute provider promises the pool (the Compute port), as cases a test file runs against its provider:
// Docker compute on its fake engine (docker/conformance.test.ts), Railway on its fake (railway/conformance.test.ts),
// local compute (local/conformance.test.ts). Nothing here waits for an agent to become ready: readiness is the pool's
// own /pool/health, so the cases hold for a provider whose instances never finish starting.

export interface ComputeConformanceCase {
  readonly name: string
  readonly run: (compute: Compute["Service"]) => Effect.Effect<void, unknown, Scope.Scope>
}

const spec = (id: string): ComputeSpec => ({ instanceId: id, instanceToken: `tok-${id}-conformance`, env: {} })
const ref = (h: { providerRef: string; providerProjectRef: string | null }) => ({
  providerRef: h.providerRef,
  providerProjectRef: h.providerProjectRef,
})
const ALIVE = ["starting", "running"]

export const computeConformanceCases: ReadonlyArray<ComputeConformanceCase> = [
  {
    name: "create answers a ref whose status is starting or running, with the handle's URL once it has one",
    run: (compute) =>
      Effect.gen(function* () {
        const handle = yield* compute.create(spec("cf1"))
        expect(handle.providerRef).not.toBe("")
        const status = (yield* compute.statusBatch([ref(handle)])).get(handle.providerRef)
        expect(ALIVE).toContain(status?.state)
        if (handle.url !== null && status?.url) expect(status.url).toBe(handle.url)
        yield* compute.destroy(handle.providerRef)
      }),
  },
  {
    name: "statusBatch answers for every ref asked in one call: unknown refs are gone, and no refs is an empty answer",
    run: (compute) =>
      Effect.gen(function* () {
        const [a, b] = [yield* compute.create(spec("cf2a")), yield* compute.create(spec("cf2b"))]
        const unknown = { providerRef: `${a.providerRef}-never-made`, providerProjectRef: a.providerProjectRef }
        const status = yield* compute.statusBatch([ref(a), unknown, ref(b)])
        expect([...status.keys()].sort()).toEqual([a.providerRef, b.providerRef, unknown.providerRef].sort())
        expect(ALIVE).toContain(status.get(a.providerRef)?.state)
        expect(ALIVE).toContain(status.get(b.providerRef)?.state)
        expect(status.get(unknown.providerRef)?.state).toBe("gone")
        expect((yield* compute.statusBatch([])).size).toBe(0)
        yield* compute.destroy(a.providerRef)
        yield* compute.destroy(b.providerRef)
      }),
  },
  {
    name: "destroy makes the instance gone, and destroying it again is done, not an error",
    run: (compute) =>
      Effect.gen(function* () {
        const handle = yield* compute.create(spec("cf3"))
        yield* compute.destroy(handle.providerRef)
        expect((yield* compute.statusBatch([ref(handle)])).get(handle.providerRef)?.state).toBe("gone")
        yield* compute.destroy(handle.providerRef)
      }),
  },
  {
    name: "destroying one instance leaves the others as they are",
    run: (compute) =>
      Effect.gen(function* () {
        const [a, b] = [yield* compute.create(spec("cf4a")), yield* compute.create(spec("cf4b"))]
        yield* compute.destroy(a.providerRef)
        const status = yield* compute.statusBatch([ref(a), ref(b)])
        expect(status.get(a.providerRef)?.state).toBe("gone")
        expect(ALIVE).toContain(status.get(b.providerRef)?.state)
        yield* compute.destroy(b.providerRef)
      }),
  },
]
