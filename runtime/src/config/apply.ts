// `runtime apply`: writes openclaw.json and the workspace into the state dir. Safe to run again (idempotent); the
// plugin calls it too after /pool/provision or PATCH /pool/agent, and OpenClaw hot-reloads the changed config.
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { loadAgentState } from "../agent/state.ts"
import { buildOpenClawConfig } from "./openclawConfig.ts"
import { perplexityPluginDir, readSecretsEnv, type RuntimeSettings } from "./settings.ts"
import { writeWorkspace } from "./workspace.ts"
import { type HeldServices, NO_SERVICES } from "../plugin/agentServices.ts"
import { toolLines } from "./seedFiles.ts"

/** Whether agents get web search (OpenClaw's Perplexity plugin on OpenRouter) when the plugin is installed. */
const SEARCH_ENABLED = true

export interface ApplyResult {
  readonly configPath: string
  readonly workspaceFiles: ReadonlyArray<string>
  readonly hasModelKey: boolean
}

/** Env as the agent sees it: the process env plus the secrets handed over at provision time. */
export const effectiveEnv = (
  settings: RuntimeSettings,
  env: NodeJS.ProcessEnv,
): Record<string, string | undefined> => ({
  ...env,
  ...readSecretsEnv(settings.stateDir),
})

/**
 * `held` is what the pool's service API says the agent holds (GET /api/agent-services/me): it decides the `## Tools`
 * list in AGENTS.md. Unknown (the CLI before the gateway runs, or the API unreachable) lists none.
 */
export const applyRuntime = (
  settings: RuntimeSettings,
  env: NodeJS.ProcessEnv,
  held: HeldServices = NO_SERVICES,
): ApplyResult => {
  mkdirSync(settings.stateDir, { recursive: true, mode: 0o700 })
  const merged = effectiveEnv(settings, env)
  const state = loadAgentState(settings.stateDir, {
    agentName: env.AGENT_NAME || settings.agentName,
    instructions: env.AGENT_INSTRUCTIONS || "",
  })
  const hasModelKey = !!merged.OPENROUTER_API_KEY
  const webSearch = SEARCH_ENABLED && existsSync(join(perplexityPluginDir(), "openclaw.plugin.json"))
  const config = buildOpenClawConfig({
    settings,
    hasModelKey,
    hasEndpointKey: !!merged.MODEL_API_KEY,
    model: state.model ?? null,
    webSearch,
  })
  // The tools the workspace describes are the ones the config lets the model call (search only with a search route).
  const workspaceFiles = writeWorkspace(
    settings.workspaceDir,
    state,
    toolLines(config.tools.allow, held),
    settings.heartbeatEvery,
  )
  mkdirSync(dirname(settings.configPath), { recursive: true })
  writeFileSync(settings.configPath, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 })
  chmodSync(settings.configPath, 0o600)
  return {
    configPath: settings.configPath,
    workspaceFiles,
    hasModelKey: hasModelKey || settings.modelEndpoint !== null,
  }
}
