import { Effect, Option } from "effect"
import { InvalidConfig } from "../../../domain/errors.ts"
import { optionalString, providerEnvironment, readConfig } from "../../http/env.ts"
import { DEFAULT_DOCKER_HOST, dockerHostProblem } from "./transport.ts"

// Docker compute's settings (COMPUTE=docker), from the environment:
// - DOCKER_HOST: the engine (unix:///var/run/docker.sock by default; podman's socket works the same);
// - DOCKER_RUNTIME_IMAGE: the agent image, `npm run image:runtime` builds convos-agent-runtime:latest;
// - DOCKER_AGENT_MEMORY / DOCKER_AGENT_CPUS: each agent container's limits (an agent peaks at ~1.3 GB, as local);
// - DOCKER_NETWORK: `host` (agents listen on a free port of this machine; the manager reaches them on loopback), or a
//   network name (Docker Compose: agents listen on 8080 and the manager, on the same network, reaches them by name).
// - POOL_ENVIRONMENT (providers/environment.ts) goes on every container's labels.

export interface DockerSettings {
  readonly host: string
  readonly image: string
  readonly memoryBytes: number
  readonly nanoCpus: number
  readonly network: string
  readonly environment: string
}

export const DEFAULT_RUNTIME_IMAGE = "convos-agent-runtime:latest"
const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
}
/** Docker refuses a memory limit under 6 MB; an agent needs far more, but that is the engine's own floor. */
const MIN_MEMORY = 6 * 1024 ** 2

/** "1536m", "1.5g", "2GiB" or a byte count → bytes; null when it is none of those. */
export const parseMemory = (raw: string): number | null => {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(raw.trim())
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined
  return m && unit !== undefined ? Math.floor(Number(m[1]) * unit) : null
}

const invalid = (variable: string, message: string) => new InvalidConfig({ variable, message })

/** Pure: settings from the raw values (tests and the env reader share it). */
export const dockerSettings = (raw: {
  host: string | null
  image: string | null
  memory: string | null
  cpus: string | null
  network: string | null
  environment: string
}): Effect.Effect<DockerSettings, InvalidConfig> =>
  Effect.gen(function* () {
    const host = raw.host ?? DEFAULT_DOCKER_HOST
    const hostProblem = dockerHostProblem(host)
    if (hostProblem) return yield* invalid("DOCKER_HOST", hostProblem)
    const memoryBytes = parseMemory(raw.memory ?? "1536m")
    if (memoryBytes === null || memoryBytes < MIN_MEMORY)
      return yield* invalid(
        "DOCKER_AGENT_MEMORY",
        `DOCKER_AGENT_MEMORY must be a memory size of at least 6m such as 1536m or 2g (got "${raw.memory}"); an agent needs about 1.3 GB.`,
      )
    const cpus = Number(raw.cpus ?? "1")
    if (!Number.isFinite(cpus) || cpus <= 0 || cpus > 256)
      return yield* invalid(
        "DOCKER_AGENT_CPUS",
        `DOCKER_AGENT_CPUS must be a number of CPUs above 0 such as 1 or 0.5 (got "${raw.cpus}").`,
      )
    const network = raw.network ?? "host"
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(network))
      return yield* invalid(
        "DOCKER_NETWORK",
        `DOCKER_NETWORK must be "host" or the name of a Docker network such as convos (got "${network}").`,
      )
    return {
      host,
      image: raw.image ?? DEFAULT_RUNTIME_IMAGE,
      memoryBytes,
      nanoCpus: Math.round(cpus * 1e9),
      network,
      environment: raw.environment,
    }
  })

export const dockerSettingsFromEnv = Effect.gen(function* () {
  const read = (name: string) => readConfig(optionalString(name)).pipe(Effect.map(Option.getOrNull))
  return yield* dockerSettings({
    host: yield* read("DOCKER_HOST"),
    image: yield* read("DOCKER_RUNTIME_IMAGE"),
    memory: yield* read("DOCKER_AGENT_MEMORY"),
    cpus: yield* read("DOCKER_AGENT_CPUS"),
    network: yield* read("DOCKER_NETWORK"),
    environment: yield* providerEnvironment,
  })
})
