// Turns `runtime start` into the OpenClaw gateway itself: after the config is written, the process is REPLACED
// (execve) by `node <heap flags> openclaw.mjs gateway run`, so an agent is one gateway process with no wrapper beside
// it (same pid, same process group, signals reach the gateway directly). Offline-safe env, V8 limits sized for one
// agent, and Node's module compile cache kept in the agent's state dir (gatewayTmpDir). See docs/runtime-footprint.md for the figures.
import { cpSync, existsSync, mkdirSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import {
  DEFAULT_OPENROUTER_BASE_URL,
  openclawEntry,
  readSecretsEnv,
  runtimeRoot,
  type RuntimeSettings,
} from "./config/settings.ts"

/**
 * V8 limits for one agent's gateway (docs/runtime-footprint.md): old space well above the ~200 MB a ready agent
 * uses and the peaks of a turn (256 crashed at start-up); young space 16 MB per semi-space instead of the 64 MB V8
 * picks on a large host (8 MB nearly doubled the garbage collection time of a start). Passed on the command line, not in NODE_OPTIONS, so OpenClaw's own helper
 * processes keep their defaults (docs/gateway/troubleshooting/gateway-service-and-process.md).
 */
export const GATEWAY_NODE_FLAGS = ["--max-old-space-size=512", "--max-semi-space-size=16"] as const

/**
 * The gateway's temp dir, in the state dir. OpenClaw keeps Node's module compile cache under os.tmpdir() (its launcher
 * enables it there), so restarts of this agent skip compiling (on Railway the state dir is a volume); its log file
 * moves out of the host-wide /tmp/openclaw too. Not NODE_COMPILE_CACHE: with it set, OpenClaw's launcher respawns
 * itself into a child process to move the cache to its own subfolder, a second process for every agent.
 */
export const gatewayTmpDir = (settings: RuntimeSettings) => join(settings.stateDir, "tmp")

const COMPILE_CACHE = "node-compile-cache"

/**
 * A new agent's compile cache starts as a copy of the host's (what OpenClaw gateways and CLIs running with the
 * default temp dir left in <os.tmpdir()>/node-compile-cache), so its first start does not compile OpenClaw's modules
 * from scratch either. Best effort: without a host cache the first start compiles, and fills the agent's own.
 */
export const seedCompileCache = (settings: RuntimeSettings, hostTmpDir: string = tmpdir()): boolean => {
  const own = join(gatewayTmpDir(settings), COMPILE_CACHE)
  const host = join(hostTmpDir, COMPILE_CACHE)
  if (existsSync(own) || !existsSync(host) || host === own) return false
  try {
    cpSync(host, own, { recursive: true })
    return true
  } catch {
    return false
  }
}

/** The gateway's environment: caller env + provision-time secrets + the offline/embedding presets. */
export const gatewayEnv = (
  settings: RuntimeSettings,
  { NODE_COMPILE_CACHE: _respawns, ...env }: NodeJS.ProcessEnv,
): NodeJS.ProcessEnv => ({
  ...env,
  ...readSecretsEnv(settings.stateDir),
  CONVOS_RUNTIME_ROOT: runtimeRoot(),
  OPENCLAW_STATE_DIR: settings.stateDir,
  OPENCLAW_CONFIG_PATH: settings.configPath,
  OPENCLAW_GATEWAY_TOKEN: settings.token ?? "",
  INSTANCE_TOKEN: settings.token ?? "",
  OPENROUTER_BASE_URL: env.OPENROUTER_BASE_URL || DEFAULT_OPENROUTER_BASE_URL,
  // Keep $HOME-relative writes (npm logs, caches) inside the instance.
  HOME: join(settings.stateDir, "home"),
  TMPDIR: gatewayTmpDir(settings),
  OPENCLAW_DISABLE_BONJOUR: "1",
  OPENCLAW_NO_RESPAWN: "1",
  OPENCLAW_NO_AUTO_UPDATE: "1",
  OPENCLAW_EXEC_SHELL_SNAPSHOT: "0",
  NO_COLOR: "1",
  // Two glibc malloc arenas instead of one per allocating thread (up to 8 per core): the gateway's 13 threads each
  // kept an arena of their own (docs/runtime-footprint.md "MALLOC_ARENA_MAX"). Inherited by OpenClaw's helpers.
  MALLOC_ARENA_MAX: env.MALLOC_ARENA_MAX || "2",
})

/** Node's argv for the gateway (after the node binary). */
export const gatewayArgs = (settings: RuntimeSettings): string[] => [
  ...GATEWAY_NODE_FLAGS,
  openclawEntry(),
  "gateway",
  "run",
  "--port",
  String(settings.port),
  "--bind",
  settings.bind,
]

/** Replaces this process with the gateway (never returns). Node must be ≥ 24.16 (checked by the CLI). */
export const execGateway = (settings: RuntimeSettings, env: NodeJS.ProcessEnv): never => {
  mkdirSync(join(settings.stateDir, "home"), { recursive: true })
  mkdirSync(gatewayTmpDir(settings), { recursive: true, mode: 0o700 })
  seedCompileCache(settings)
  // cwd = the agent's state dir: OpenClaw reads ./.env from its cwd, which must be the agent's own (its provision-time
  // secrets), never a .env of the repository or the manager. execve keeps the cwd.
  process.chdir(settings.stateDir)
  const merged = gatewayEnv(settings, env)
  const envRecord = Object.fromEntries(Object.entries(merged).filter((e): e is [string, string] => e[1] !== undefined))
  process.execve!(process.execPath, [process.execPath, ...gatewayArgs(settings)], envRecord)
  throw new Error("unreachable: process.execve returned")
}
