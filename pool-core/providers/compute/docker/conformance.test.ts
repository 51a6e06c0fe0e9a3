import { describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import { Compute } from "../Compute.ts"
import { computeConformanceCases } from "../conformance.ts"
import { dockerComputeLayer } from "./DockerCompute.ts"
import { fakeDockerEngine } from "./testing/fakeEngine.ts"

// The compute conformance cases (../conformance.ts) against Docker compute on the contract-checking fake engine.

const IMAGE = "convos-agent-runtime:test"

describe("Docker compute conformance", () => {
  for (const c of computeConformanceCases) {
    it.live(c.name, () =>
      Effect.gen(function* () {
        const engine = yield* fakeDockerEngine([IMAGE])
        const layer = dockerComputeLayer({
          host: engine.host,
          image: IMAGE,
          memoryBytes: 1024 ** 3,
          nanoCpus: 1e9,
          network: "host",
          environment: "conformance",
        }).pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ XMTP_ENV: "dev" }))))
        yield* c.run(yield* Effect.provide(Effect.service(Compute), layer))
        if (engine.violations.length > 0)
          throw new Error(`requests off the Docker Engine API: ${JSON.stringify(engine.violations)}`)
      }).pipe(Effect.scoped),
    )
  }
})
