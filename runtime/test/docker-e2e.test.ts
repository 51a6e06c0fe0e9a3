// End to end in a REAL container: the runtime image (runtime/Dockerfile, built by `npm run image:runtime`, layers
// cached between runs) run by Docker compute (COMPUTE=docker) over the Docker Engine API of a real engine (a podman
// service this test starts, or a Docker daemon). Against a devnet, a fake OpenAI-compatible LLM and the pool's
// service API fake on loopback (the container shares this machine's network: DOCKER_NETWORK=host):
// create → /pool/health ready → provision → a devnet person joins and gets the model's reply; the engine applied the
// memory limit; a second compute layer (a restarted manager) re-adopts the container by its labels; destroy removes
// the container and its volume.
// It runs wherever a container engine answers (podman, or a Docker daemon), and is skipped saying why only where none
// does; its tests carry "[needs a container engine]" so that CI, which installs podman, fails if they were skipped
// (scripts/check-required-tests.mjs). The image is built from what `npm ci` installed here (scripts/image/hostApp.mjs;
// ~2-3 min on a 2-core machine) and tagged by its fingerprint, so an unchanged runtime is not built again (seconds).
import { spawnSync } from "node:child_process"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ConfigProvider, Effect, Layer, ManagedRuntime } from "effect"
import { Compute } from "@convos-agents/pool-core"
import { dockerComputeLayer, type DockerSettings, dockerTransport } from "@convos-agents/pool-core/compute/docker"
import { connectPerson, joinInvite, waitForText } from "./support/chatClient.ts"
import { noEngineReason, startTestEngine, type TestEngine } from "./support/containerEngine.ts"
import { startTestDevnet } from "./support/devnet.ts"
import { type FakeLlm, startFakeLlm } from "./support/fakeLlm.ts"
import { type ServicesFake, startServicesFake } from "./support/servicesFake.ts"

const IMAGE = "convos-agent-runtime:latest"
const ID = `dockere2e${process.pid}`
const TOKEN = "docker-e2e-token"
const MEMORY = 1536 * 1024 ** 2
const repoRoot = join(import.meta.dirname, "..", "..")
const reason = noEngineReason()
/** In every test's name: CI fails when any of them did not run (scripts/check-required-tests.mjs). */
const NEEDS_ENGINE = "[needs a container engine]"

let engine: TestEngine
let devnet: Awaited<ReturnType<typeof startTestDevnet>>
let llm: FakeLlm
let services: ServicesFake
let settings: DockerSettings
let compute: ManagedRuntime.ManagedRuntime<Compute, unknown>
let ref = ""
let url = ""

const onCompute = <A, E>(
  runtime: ManagedRuntime.ManagedRuntime<Compute, unknown>,
  f: (c: Compute["Service"]) => Effect.Effect<A, E>,
) => runtime.runPromise(Effect.flatMap(Effect.service(Compute), f))
const layerFor = (baseEnv: Record<string, string>) =>
  dockerComputeLayer(settings, { baseEnv }).pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({}))))
/** The engine's own answer for one of its API paths (the test's view, beside the layer's). */
const engineGet = async (path: string) => {
  const t = dockerTransport(engine.host)
  const res = await t.fetch(`${t.baseUrl}/v1.41${path}`)
  return { status: res.status, json: res.status === 200 ? ((await res.json()) as Record<string, any>) : null }
}

const waitReady = async (base: string) => {
  for (;;) {
    try {
      const r = await fetch(`${base}/pool/health`)
      if (r.ok && ((await r.json()) as { ready: boolean }).ready) return
    } catch {}
    const state = (await engineGet(`/containers/${ref}/json`)).json?.State
    if (state && state.Status !== "running" && state.Status !== "created" && state.Status !== "restarting") {
      const logs = spawnSync(engine.name, ["logs", "--tail", "40", ref], { env: engine.env, encoding: "utf8" })
      throw new Error(
        `agent container ${ref} is ${state.Status} (exit ${state.ExitCode}); its log:\n${logs.stdout}${logs.stderr}`,
      )
    }
    await new Promise((r) => setTimeout(r, 1000))
  }
}

if (reason) {
  console.log(`runtime in a real container skipped: ${reason}`)
  describe.skip(`runtime in a real container ${NEEDS_ENGINE} — skipped: ${reason}`, () => {
    it("builds the runtime image and runs an agent in it through Docker compute", () => {})
  })
} else {
  beforeAll(async () => {
    engine = await startTestEngine()
    // Built once; later runs reuse the engine's layer cache (only changed sources are compiled and copied again).
    const build = spawnSync(process.execPath, [join(repoRoot, "scripts", "image.mjs"), "runtime"], {
      cwd: repoRoot,
      env: { ...engine.env, CONTAINER_ENGINE: engine.name, IMAGE_TAG: IMAGE },
      stdio: "inherit",
    })
    if (build.status !== 0) throw new Error(`npm run image:runtime failed (exit ${build.status}); see its output above`)
    devnet = await startTestDevnet()
    llm = await startFakeLlm()
    services = await startServicesFake({
      instanceId: ID,
      token: TOKEN,
      held: { email: null, phone: null, wallet: null },
    })
    settings = {
      host: engine.host,
      image: IMAGE,
      memoryBytes: MEMORY,
      nanoCpus: 1e9,
      network: "host",
      environment: `e2e-${process.pid}`,
    }
    compute = ManagedRuntime.make(
      layerFor({
        DEVNET_URL: devnet.url,
        OPENROUTER_BASE_URL: llm.baseUrl,
        OPENCLAW_PRIMARY_MODEL: "openrouter/anthropic/claude-sonnet-4-6",
        POOL_SERVICES_URL: services.url,
      }),
    )
    const startedAt = Date.now()
    const handle = await onCompute(compute, (c) => c.create({ instanceId: ID, instanceToken: TOKEN, env: {} }))
    ref = handle.providerRef
    url = handle.url!
    await waitReady(url)
    console.log(
      `docker e2e: agent container ready ${((Date.now() - startedAt) / 1000).toFixed(1)} s after create (cold start)`,
    )
  }, 3_600_000)

  afterAll(async () => {
    if (ref) await onCompute(compute, (c) => c.destroy(ref)).catch(() => undefined)
    await compute?.dispose()
    await llm?.close()
    await services?.close()
    await devnet?.close()
    await engine?.close()
  }, 120_000)

  describe(`runtime in a real container (Docker compute) ${NEEDS_ENGINE}`, () => {
    it("runs as uid 10001 with the memory and CPU limits, labels and volume; healthy; routes guarded by the token", async () => {
      const inspect = (await engineGet(`/containers/${ref}/json`)).json!
      expect(inspect.Config.User).toBe("10001:10001")
      expect(inspect.HostConfig.Memory).toBe(MEMORY)
      expect(inspect.HostConfig.NanoCpus).toBe(1e9)
      expect(inspect.Config.Labels).toMatchObject({
        "convos.pool.environment": settings.environment,
        "convos.instance.id": ID,
      })
      expect(inspect.Mounts.map((m: { Name: string; Destination: string }) => [m.Name, m.Destination])).toEqual([
        [`${ref}-data`, "/data"],
      ])
      // The limit is enforced by the kernel, not only recorded: the container's cgroup reports it.
      const stats = (await engineGet(`/containers/${ref}/stats?stream=false`)).json!
      expect(stats.memory_stats.limit).toBe(MEMORY)
      console.log(
        `docker e2e: agent container RSS ${(stats.memory_stats.usage / 1024 ** 2).toFixed(0)} MB (memory usage from container stats, idle)`,
      )
      const status = await onCompute(compute, (c) => c.statusBatch([{ providerRef: ref, providerProjectRef: null }]))
      expect(status.get(ref)).toEqual({ providerRef: ref, state: "running", url })
      expect(await (await fetch(`${url}/pool/health`)).json()).toMatchObject({ ready: true })
      expect((await fetch(`${url}/convos/status`)).status).toBe(401)
      expect((await fetch(`${url}/convos/status`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200)
    })

    it("the image holds the runtime's production dependencies only, the linux-x64 XMTP binding only, no sources", () => {
      const script = `
        const { existsSync, readdirSync } = require("node:fs")
        const bindings = readdirSync("/app/node_modules/@xmtp/node-bindings/dist").filter((f) => f.endsWith(".node"))
        const here = (p) => existsSync("/app/" + p)
        console.log(JSON.stringify({
          bindings,
          present: ["node_modules/@xmtp/node-sdk", "node_modules/effect", "runtime/gateway/node_modules/openclaw",
            "runtime/dist/cli.mjs", "runtime/gateway/extensions/convos/dist/index.js"].filter(here),
          absent: ["node_modules/tsx", "node_modules/vitest", "node_modules/typescript", "node_modules/esbuild",
            "node_modules/playwright-core", "node_modules/@electric-sql/pglite", "node_modules/@convos-agents",
            "node_modules/.bin", "runtime/src", "runtime/gateway/extensions/convos/src"].filter((p) => !here(p)),
        }))`
      const run = spawnSync(engine.name, ["run", "--rm", "--network", "host", IMAGE, "node", "-e", script], {
        env: engine.env,
        encoding: "utf8",
      })
      expect(run.status, run.stderr).toBe(0)
      const found = JSON.parse(run.stdout.trim().split("\n").at(-1)!)
      expect(found.bindings).toEqual(["bindings_node.linux-x64-gnu.node"])
      expect(found.present).toHaveLength(5)
      // tsx/vitest/typescript/esbuild: the root's dev tools; playwright-core: the runtime's dev dependency; pglite:
      // another workspace's (pool-core's) production dependency, which `npm ci --workspace` used to bring along.
      expect(found.absent).toEqual([
        "node_modules/tsx",
        "node_modules/vitest",
        "node_modules/typescript",
        "node_modules/esbuild",
        "node_modules/playwright-core",
        "node_modules/@electric-sql/pglite",
        "node_modules/@convos-agents",
        "node_modules/.bin",
        "runtime/src",
        "runtime/gateway/extensions/convos/src",
      ])
      // The CLI's inspect: podman's Docker API leaves the health check out (podman keeps it beside Config, Docker in it).
      const inspect = spawnSync(engine.name, ["image", "inspect", IMAGE], { env: engine.env, encoding: "utf8" })
      type Health = { Test: string[] } | undefined
      const [image] = JSON.parse(inspect.stdout) as [
        { Config: { User: string; Healthcheck: Health }; Healthcheck: Health },
      ]
      expect(image.Config.User).toBe("10001:10001")
      expect((image.Config.Healthcheck ?? image.Healthcheck)?.Test.join(" ")).toContain("/pool/health")
    })

    it("provision → invite → a devnet person joins and chats → the agent answers with the model's text", async () => {
      const res = await fetch(`${url}/pool/provision`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({
          agentName: "Container Helper",
          instructions: "Answer briefly.",
          env: { OPENROUTER_API_KEY: "sk-docker-e2e" },
        }),
      })
      expect(res.status).toBe(200)
      const answer = (await res.json()) as { conversationId: string; inviteUrl: string }
      const reply = await Effect.runPromise(
        Effect.scoped(
          Effect.gen(function* () {
            const person = yield* connectPerson(devnet.url, "docker e2e person")
            yield* joinInvite(person, answer.inviteUrl)
            const sentAt = Date.now()
            yield* person.client.sendText(answer.conversationId, "ping from a container test")
            return yield* waitForText(
              person,
              answer.conversationId,
              (t) => t.startsWith("FAKE-REPLY"),
              sentAt - 1,
              300_000,
            )
          }),
        ),
      )
      expect(reply).toMatch(/^FAKE-REPLY #\d+: ping from a container test/)
      expect(llm.requests.at(-1)!.authorization).toBe("Bearer sk-docker-e2e")
    }, 600_000)

    it("a restarted manager re-adopts the container by its labels; destroy removes the container and its volume", async () => {
      const second = ManagedRuntime.make(layerFor({}))
      try {
        const status = await onCompute(second, (c) => c.statusBatch([{ providerRef: ref, providerProjectRef: null }]))
        expect(status.get(ref)).toEqual({ providerRef: ref, state: "running", url })
        await onCompute(second, (c) => c.destroy(ref))
        expect((await engineGet(`/containers/${ref}/json`)).status).toBe(404)
        const volumes = spawnSync(engine.name, ["volume", "ls", "--format", "{{.Name}}"], {
          env: engine.env,
          encoding: "utf8",
        }).stdout
        expect(volumes.split("\n")).not.toContain(`${ref}-data`)
        const after = await onCompute(second, (c) => c.statusBatch([{ providerRef: ref, providerProjectRef: null }]))
        expect(after.get(ref)?.state).toBe("gone")
        ref = ""
      } finally {
        await second.dispose()
      }
    }, 120_000)
  })
}
