// The container phase of `npm run bench:runtime`: one agent in the runtime image (built or refreshed with
// `npm run image:runtime`, layers cached), started by Docker compute over a real engine's Docker Engine API (a podman
// service started here, or a Docker daemon; runtime/test/support/containerEngine.ts), on this machine's network
// against the bench's devnet. Measures cold start (create → /pool/health ready) and the container's
// memory from the engine's stats (RSS, and usage incl. page cache) after the same idle time as the local phase.
import { spawnSync } from "node:child_process"
import { join } from "node:path"
import { ConfigProvider, Effect, Layer, ManagedRuntime } from "effect"
import { Compute } from "../pool-core/providers/compute/Compute.ts"
import { dockerComputeLayer } from "../pool-core/providers/compute/docker/DockerCompute.ts"
import { dockerTransport } from "../pool-core/providers/compute/docker/transport.ts"
import { noEngineReason, startTestEngine } from "../runtime/test/support/containerEngine.ts"
import type { Measure } from "./lib.ts"

const IMAGE = "convos-agent-runtime:latest"
const MEMORY = 1536 * 1024 ** 2
const root = join(import.meta.dirname, "..")

export const measureContainerAgent = async (options: {
  devnetUrl: string
  token: string
  idleMs: number
  readyTimeoutMs: number
  log: (line: string) => void
}): Promise<{ measures: Measure[]; notes: string[] }> => {
  const reason = noEngineReason()
  if (reason) return { measures: [], notes: [`agent in a container: skipped (${reason})`] }
  const engine = await startTestEngine()
  const buildStart = performance.now()
  const build = spawnSync(process.execPath, [join(root, "scripts", "image.mjs"), "runtime"], {
    cwd: root,
    env: { ...engine.env, CONTAINER_ENGINE: engine.name, IMAGE_TAG: IMAGE },
    stdio: ["ignore", "inherit", "inherit"],
  })
  if (build.status !== 0) throw new Error(`npm run image:runtime failed (exit ${build.status})`)
  const buildS = (performance.now() - buildStart) / 1000
  const settings = {
    host: engine.host,
    image: IMAGE,
    memoryBytes: MEMORY,
    nanoCpus: 1e9,
    network: "host",
    environment: `bench-${process.pid}`,
  }
  const layer = dockerComputeLayer(settings, { baseEnv: { DEVNET_URL: options.devnetUrl } }).pipe(
    Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({}))),
  )
  const compute = ManagedRuntime.make(layer)
  const onCompute = <A, E>(f: (c: Compute["Service"]) => Effect.Effect<A, E>) =>
    compute.runPromise(Effect.flatMap(Effect.service(Compute), f))
  let ref = ""
  try {
    const t0 = performance.now()
    const handle = await onCompute((c) =>
      c.create({ instanceId: "bench-container-1", instanceToken: options.token, env: {} }),
    )
    ref = handle.providerRef
    for (;;) {
      try {
        const r = await fetch(`${handle.url}/pool/health`)
        if (r.ok && ((await r.json()) as { ready: boolean }).ready) break
      } catch {}
      if (performance.now() - t0 > options.readyTimeoutMs)
        throw new Error(`agent container ${ref} not ready within ${options.readyTimeoutMs / 1000} s`)
      await new Promise((r) => setTimeout(r, 250))
    }
    const coldStartS = (performance.now() - t0) / 1000
    options.log(
      `  agent container ${ref} ready after ${coldStartS.toFixed(1)} s; idling ${options.idleMs / 1000} s before reading its stats…`,
    )
    await new Promise((r) => setTimeout(r, options.idleMs))
    const t = dockerTransport(engine.host)
    const stats = (await (await t.fetch(`${t.baseUrl}/v1.41/containers/${ref}/stats?stream=false`)).json()) as {
      memory_stats: { usage: number; limit: number; stats?: Record<string, number> }
    }
    const mb = (bytes: number) => bytes / 1024 ** 2
    const rss = stats.memory_stats.stats?.rss ?? stats.memory_stats.stats?.anon ?? null
    return {
      measures: [
        {
          measure: "agent in a container: cold start to ready (Docker compute create → /pool/health)",
          value: coldStartS,
          unit: "s",
        },
        ...(rss === null
          ? []
          : [{ measure: "agent in a container: idle RSS (container stats, cgroup rss)", value: mb(rss), unit: "MB" }]),
        {
          measure: "agent in a container: idle memory usage incl. page cache (container stats)",
          value: mb(stats.memory_stats.usage),
          unit: "MB",
        },
      ],
      notes: [
        `container phase: ${engine.name} over the Docker Engine API, image ${IMAGE} (refreshed in ${buildS.toFixed(0)} s), limit ${mb(stats.memory_stats.limit).toFixed(0)} MB, host network`,
      ],
    }
  } finally {
    if (ref) await onCompute((c) => c.destroy(ref)).catch(() => undefined)
    await compute.dispose()
    await engine.close()
  }
}
