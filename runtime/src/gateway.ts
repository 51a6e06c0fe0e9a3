// Turns `runtime start` into the OpenClaw gateway itself: after the config is written, the process is REPLACED
// (execve) by `node openclaw.mjs gateway run`, so an agent is one gateway process with no wrapper beside it (same
// pid, same process group, signals reach the gateway directly), with the offline-safe env. See
// docs/runtime-footprint.md for the figures.
import { mkdirSync } from "node:fs"
import { join } from "node:path"
import { DEFAULT_OPENROUTER_BASE_URL, openclawEntry, readSecretsEnv, runtimeRoot, type RuntimeSettings } from "./config/settings.ts"

/** The gateway's environment: caller env + provision-time secrets + the offline/embedding presets. */
export const gatewayEnv = (settings: RuntimeSettings, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({
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
  OPENCLAW_DISABLE_BONJOUR: "1",
  OPENCLAW_NO_RESPAWN: "1",
  OPENCLAW_NO_AUTO_UPDATE: "1",
  OPENCLAW_EXEC_SHELL_SNAPSHOT: "0",
  NO_COLOR: "1",
})

/** Node's argv for the gateway (after the node binary). */
export const gatewayArgs = (settings: RuntimeSettings): string[] => [
  openclawEntry(), "gateway", "run", "--port", String(settings.port), "--bind", settings.bind,
]

/** Replaces this process with the gateway (never returns). Node must be ≥ 24.16 (checked by the CLI). */
export const execGateway = (settings: RuntimeSettings, env: NodeJS.ProcessEnv): never => {
  mkdirSync(join(settings.stateDir, "home"), { recursive: true })
  // cwd = the agent's state dir: OpenClaw reads ./.env from its cwd, which must be the agent's own (its provision-time
  // secrets), never a .env of the repository or the manager. execve keeps the cwd.
  process.chdir(settings.stateDir)
  const merged = gatewayEnv(settings, env)
  const envRecord = Object.fromEntries(Object.entries(merged).filter((e): e is [string, string] => e[1] !== undefined))
  process.execve!(process.execPath, [process.execPath, ...gatewayArgs(settings)], envRecord)
  throw new Error("unreachable: process.execve returned")
}
