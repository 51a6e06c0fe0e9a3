// Runs the OpenClaw gateway headless on loopback as a child process with offline-safe env, and forwards SIGTERM/SIGINT
// so the gateway shuts down cleanly (it exits ~0.3-5 s after SIGTERM).
import { spawn } from "node:child_process"
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

export const gatewayArgs = (settings: RuntimeSettings): string[] => [
  openclawEntry(), "gateway", "run", "--port", String(settings.port), "--bind", settings.bind,
]

/** Spawns the gateway with this process's Node (must be ≥ 24.16) and resolves with its exit code. */
export const runGateway = (settings: RuntimeSettings, env: NodeJS.ProcessEnv): Promise<number> => {
  mkdirSync(join(settings.stateDir, "home"), { recursive: true })
  // cwd = the agent's state dir: OpenClaw reads ./.env from its cwd, which must be the agent's own (its provision-time
  // secrets), never a .env of the repository or the manager.
  const child = spawn(process.execPath, gatewayArgs(settings), { cwd: settings.stateDir, env: gatewayEnv(settings, env), stdio: "inherit" })
  const forward = (signal: NodeJS.Signals) => () => {
    child.kill(signal)
  }
  const onTerm = forward("SIGTERM")
  const onInt = forward("SIGINT")
  process.on("SIGTERM", onTerm)
  process.on("SIGINT", onInt)
  return new Promise((resolve) => {
    child.on("exit", (code, signal) => {
      process.off("SIGTERM", onTerm)
      process.off("SIGINT", onInt)
      resolve(code ?? (signal ? 128 + 15 : 1))
    })
  })
}
