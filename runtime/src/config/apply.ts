// `runtime apply`: writes openclaw.json and the workspace into the state dir. Safe to run again (idempotent); the
// plugin calls it too after /pool/provision or PATCH /pool/agent, and OpenClaw hot-reloads the changed config.
import { chmodSync, mkdirSync, writeFileSync } from "node:fs"
import { dirname } from "node:path"
import { loadAgentState } from "../agent/state.ts"
import { buildOpenClawConfig } from "./openclawConfig.ts"
import { readSecretsEnv, type RuntimeSettings } from "./settings.ts"
import { writeWorkspace } from "./workspace.ts"

export interface ApplyResult {
  readonly configPath: string
  readonly workspaceFiles: ReadonlyArray<string>
  readonly hasModelKey: boolean
}

/** Env as the agent sees it: the process env plus the secrets handed over at provision time. */
export const effectiveEnv = (settings: RuntimeSettings, env: NodeJS.ProcessEnv): Record<string, string | undefined> => ({
  ...env,
  ...readSecretsEnv(settings.stateDir),
})

export const applyRuntime = (settings: RuntimeSettings, env: NodeJS.ProcessEnv): ApplyResult => {
  mkdirSync(settings.stateDir, { recursive: true, mode: 0o700 })
  const merged = effectiveEnv(settings, env)
  const state = loadAgentState(settings.stateDir, { agentName: env.AGENT_NAME || settings.agentName, instructions: env.AGENT_INSTRUCTIONS || "" })
  const workspaceFiles = writeWorkspace(settings.workspaceDir, state, merged)
  const hasModelKey = !!merged.OPENROUTER_API_KEY
  const config = buildOpenClawConfig({ settings, hasModelKey })
  mkdirSync(dirname(settings.configPath), { recursive: true })
  writeFileSync(settings.configPath, JSON.stringify(config, null, 2) + "\n", { mode: 0o600 })
  chmodSync(settings.configPath, 0o600)
  return { configPath: settings.configPath, workspaceFiles, hasModelKey }
}
