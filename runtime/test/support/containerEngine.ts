// A container engine for the tests that run the runtime image for real: a podman API service this test process
// starts on its own socket (stopped by PID afterwards), or else a Docker engine that already answers at DOCKER_HOST.
// podman gets a containers.conf that works on these machines (research note containers.md): runc, cgroupfs, lowered
// ulimits (raising rlimits is refused here), file events. A CONTAINERS_CONF of the caller's own wins.
import { spawn, spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

export interface TestEngine {
  readonly name: "podman" | "docker"
  /** DOCKER_HOST of its API. */
  readonly host: string
  /** Env for the engine's CLI (podman: the containers.conf used). */
  readonly env: NodeJS.ProcessEnv
  readonly close: () => Promise<void>
}

const answers = (cmd: string, args: ReadonlyArray<string>, env?: NodeJS.ProcessEnv) =>
  spawnSync(cmd, args, { stdio: "ignore", env }).status === 0

const CONTAINERS_CONF = `[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
`

/** Why no engine can run containers here (the test is then skipped with it), or null when one can. */
export const noEngineReason = (): string | null => {
  if (answers("podman", ["--version"])) return null
  if (answers("docker", ["info"])) return null
  return "no container engine here: neither podman (apt-get install -y podman runc) nor a Docker daemon answering `docker info`"
}

export const startTestEngine = async (): Promise<TestEngine> => {
  if (!answers("podman", ["--version"])) {
    return {
      name: "docker",
      host: process.env.DOCKER_HOST || "unix:///var/run/docker.sock",
      env: process.env,
      close: async () => {},
    }
  }
  const dir = mkdtempSync(join(tmpdir(), "podman-api-"))
  const conf = process.env.CONTAINERS_CONF || join(dir, "containers.conf")
  if (!process.env.CONTAINERS_CONF) writeFileSync(conf, CONTAINERS_CONF)
  const env = { ...process.env, CONTAINERS_CONF: conf }
  const socket = join(dir, "podman.sock")
  const service = spawn("podman", ["system", "service", "--time=0", `unix://${socket}`], {
    env,
    stdio: ["ignore", "ignore", "pipe"],
  })
  let stderr = ""
  service.stderr.on("data", (c: Buffer) => (stderr += c.toString()))
  for (let i = 0; !existsSync(socket); i++) {
    if (service.exitCode !== null || i > 600)
      throw new Error(`podman system service did not start: ${stderr.slice(0, 500)}`)
    await new Promise((r) => setTimeout(r, 100))
  }
  return {
    name: "podman",
    host: `unix://${socket}`,
    env,
    close: async () => {
      if (service.exitCode === null) {
        const exited = new Promise((r) => service.once("exit", r))
        service.kill("SIGTERM")
        await exited
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
