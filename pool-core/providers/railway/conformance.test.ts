import { describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { computeConformanceCases } from "../compute/conformance.ts"
import { expectNothingRefused, railwayOnFake } from "./testing/harness.ts"

// The compute conformance cases (../compute/conformance.ts) against Railway compute on its schema-validating fake.

describe("Railway compute conformance", () => {
  for (const layout of ["perAgent", "shared"] as const) {
    for (const c of computeConformanceCases) {
      it.live(`${layout}: ${c.name}`, () =>
        Effect.gen(function* () {
          const { fake, compute } = yield* railwayOnFake((f) => {
            if (layout === "perAgent") return {}
            const p = f.addProject("pool")
            return { layout: { _tag: "shared", projectId: p.id, environmentId: p.environments[0]!.id } }
          })
          yield* c.run(compute)
          expectNothingRefused(fake)
        }).pipe(Effect.scoped),
      )
    }
  }
})
