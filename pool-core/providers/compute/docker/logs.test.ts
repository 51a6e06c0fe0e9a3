import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import { Compute } from "../Compute.ts"
import { dockerComputeLayer } from "./DockerCompute.ts"
import { demultiplex, isMultiplexed } from "./logs.ts"
import type { DockerSettings } from "./settings.ts"
import { fakeDockerEngine } from "./testing/fakeEngine.ts"

// The admin page's log tail on Docker compute: GET /containers/{id}/logs on the in-memory engine that checks every
// request against the published Docker Engine API (openapi.json, ContainerLogs) and answers as the engine does: the
// multiplexed stream (8-byte frame headers) for a container without a TTY, raw output with one.

const IMAGE = "convos-agent-runtime:test"
const settingsFor = (host: string): DockerSettings => ({
  host,
  image: IMAGE,
  memoryBytes: 1536 * 1024 ** 2,
  nanoCpus: 1_500_000_000,
  network: "host",
  environment: "test",
})
const poolConfig = ConfigProvider.layer(
  ConfigProvider.fromUnknown({ XMTP_ENV: "dev", POOL_PUBLIC_URL: "https://pool.example.com" }),
)
const computeOn = (host: string) =>
  Effect.provide(Effect.service(Compute), dockerComputeLayer(settingsFor(host)).pipe(Layer.provide(poolConfig)))
const spec = (id: string) => ({ instanceId: id, instanceToken: `tok-${id}`, env: {} })

describe("Docker compute log tail", () => {
  it.live("stdout and stderr in the order written, out of their frames, secrets masked, one checked request", () =>
    Effect.gen(function* () {
      const engine = yield* fakeDockerEngine([IMAGE])
      const compute = yield* computeOn(engine.host)
      const { providerRef } = yield* compute.create(spec("i1"))
      engine.state.write(providerRef, "stdout", "[gateway] starting on port 8080\n")
      engine.state.write(providerRef, "stderr", "warn: OPENROUTER_API_KEY=sk-or-v1-0123456789abcdef is set\n")
      engine.state.write(providerRef, "stdout", "[gateway] ready\n")
      const tail = yield* compute.logTail!(providerRef, 16 * 1024)
      expect(tail).toBe("[gateway] starting on port 8080\nwarn: OPENROUTER_API_KEY=…(masked) is set\n[gateway] ready\n")
      const asked = engine.requests.filter((r) => r.path.includes("/logs"))
      expect(asked.map((r) => r.path)).toEqual([
        `/v1.41/containers/${providerRef}/logs?stdout=true&stderr=true&tail=512`,
      ])
      expect(engine.violations).toEqual([])
    }).pipe(Effect.scoped),
  )

  it.live("a long log: the last maxBytes, from a line start; a TTY container's raw answer reads the same", () =>
    Effect.gen(function* () {
      const engine = yield* fakeDockerEngine([IMAGE])
      const compute = yield* computeOn(engine.host)
      const { providerRef } = yield* compute.create(spec("i2"))
      const lines = Array.from({ length: 300 }, (_, i) => `line ${String(i).padStart(4, "0")} of the agent's log\n`)
      for (const [i, line] of lines.entries()) engine.state.write(providerRef, i % 3 === 0 ? "stderr" : "stdout", line)
      const tail = yield* compute.logTail!(providerRef, 1_000)
      expect(Buffer.byteLength(tail)).toBeLessThanOrEqual(1_000)
      expect(tail.endsWith(lines.at(-1)!)).toBe(true)
      expect(lines.join("").endsWith(tail)).toBe(true)
      expect(tail.startsWith("line ")).toBe(true)
      // No frame header bytes in the text.
      expect(tail).not.toMatch(/[\u0000-\u0002]/)

      engine.state.containers.get(providerRef)!.tty = true
      expect(yield* compute.logTail!(providerRef, 1_000)).toBe(tail)
      expect(engine.violations).toEqual([])
    }).pipe(Effect.scoped),
  )

  it.live("a removed container says so; a name that is not this environment's agent is refused", () =>
    Effect.gen(function* () {
      const engine = yield* fakeDockerEngine([IMAGE])
      const compute = yield* computeOn(engine.host)
      const { providerRef } = yield* compute.create(spec("i3"))
      yield* compute.destroy(providerRef)
      expect(yield* compute.logTail!(providerRef, 1_000)).toContain(`no container ${providerRef}`)
      const refused = yield* Effect.flip(compute.logTail!("someone-elses-container", 1_000))
      expect(refused.message).toContain("not an agent container of this environment")
      expect(engine.violations).toEqual([])
    }).pipe(Effect.scoped),
  )

  it("the multiplexed format: frames taken apart in order, a cut-off last frame keeps what came, raw text is not a stream", () => {
    const frame = (stream: number, text: string) => {
      const payload = Buffer.from(text)
      const header = Buffer.alloc(8)
      header[0] = stream
      header.writeUInt32BE(payload.length, 4)
      return Buffer.concat([header, payload])
    }
    const stream = Buffer.concat([frame(1, "out é\n"), frame(2, "err\n"), frame(1, "more")])
    expect(isMultiplexed(stream)).toBe(true)
    expect(Buffer.from(demultiplex(stream)).toString()).toBe("out é\nerr\nmore")
    expect(Buffer.from(demultiplex(stream.subarray(0, stream.length - 2))).toString()).toBe("out é\nerr\nmo")
    expect(isMultiplexed(Buffer.from("plain text output\n"))).toBe(false)
  })
})
