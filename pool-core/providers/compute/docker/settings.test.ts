import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { computeChoice } from "../select.ts"
import { dockerSettings, parseMemory } from "./settings.ts"

// COMPUTE picks the compute; Docker compute's settings refuse what cannot work, naming the variable and the fix.

const raw: Parameters<typeof dockerSettings>[0] = {
  host: null,
  image: null,
  memory: null,
  cpus: null,
  network: null,
  environment: "test",
}

describe("compute selection and Docker settings", () => {
  it("COMPUTE=docker selects Docker; unset keeps Railway-with-a-token else local; anything else is refused by name", () => {
    expect(computeChoice({ COMPUTE: "docker" })).toBe("docker")
    expect(computeChoice({ COMPUTE: " Docker ", RAILWAY_API_TOKEN: "t" })).toBe("docker")
    expect(computeChoice({ RAILWAY_API_TOKEN: "t" })).toBe("railway")
    expect(computeChoice({})).toBe("local")
    expect(() => computeChoice({ COMPUTE: "kubernetes" })).toThrow(
      'COMPUTE must be one of local, railway, docker (got "kubernetes")',
    )
  })

  it.effect(
    "defaults: the local Docker socket, the image `npm run image:runtime` builds, 1536 MB, 1 CPU, host network",
    () =>
      Effect.gen(function* () {
        expect(yield* dockerSettings(raw)).toEqual({
          host: "unix:///var/run/docker.sock",
          image: "convos-agent-runtime:latest",
          memoryBytes: 1536 * 1024 ** 2,
          nanoCpus: 1e9,
          network: "host",
          environment: "test",
        })
        expect(
          yield* dockerSettings({ ...raw, host: "tcp://10.0.0.5:2375", memory: "2g", cpus: "0.5", network: "convos" }),
        ).toMatchObject({ host: "tcp://10.0.0.5:2375", memoryBytes: 2 * 1024 ** 3, nanoCpus: 5e8, network: "convos" })
        expect([parseMemory("512MiB"), parseMemory("1.5g"), parseMemory("1048576"), parseMemory("lots")]).toEqual([
          512 * 1024 ** 2,
          1.5 * 1024 ** 3,
          1048576,
          null,
        ])
      }),
  )

  it.effect("a DOCKER_HOST, memory, CPU count or network that cannot work is refused naming the variable", () =>
    Effect.gen(function* () {
      const refused = (overrides: Partial<typeof raw>) => Effect.flip(dockerSettings({ ...raw, ...overrides }))
      expect(yield* refused({ host: "/var/run/docker.sock" })).toMatchObject({
        variable: "DOCKER_HOST",
        message: expect.stringContaining("unix:///path/to/docker.sock"),
      })
      expect(yield* refused({ memory: "1 potato" })).toMatchObject({
        variable: "DOCKER_AGENT_MEMORY",
        message: expect.stringContaining("such as 1536m"),
      })
      expect(yield* refused({ memory: "1m" })).toMatchObject({ variable: "DOCKER_AGENT_MEMORY" })
      expect(yield* refused({ cpus: "0" })).toMatchObject({ variable: "DOCKER_AGENT_CPUS" })
      expect(yield* refused({ network: "my net" })).toMatchObject({ variable: "DOCKER_NETWORK" })
    }),
  )
})
