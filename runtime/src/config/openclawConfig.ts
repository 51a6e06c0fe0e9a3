// The OpenClaw config (openclaw.json, JSON5-compatible JSON) for one agent instance. Pure: settings + env in, object out.
// Offline-safe by construction: no update check, no remote model catalog, no web-search plugin auto-install, only our
// channel plugin (plus the memory slot OpenClaw always loads) allowed. Secrets are referenced as ${VAR}, never inlined.
import { convosPluginDir, type RuntimeSettings } from "./settings.ts"
import { BOOTSTRAP_MAX_CHARS, BOOTSTRAP_TOTAL_MAX_CHARS } from "./workspace.ts"

export const CHANNEL_ID = "convos"
/** Our own provider id for OpenRouter's OpenAI-compatible API: naming it "openrouter" would auto-enable the bundled
 * openrouter plugin, which fetches https://openrouter.ai model capabilities at every start (not offline-safe). */
export const MODEL_PROVIDER_ID = "convos-openrouter"

export interface OpenClawConfigInput {
  readonly settings: RuntimeSettings
  /** Whether OPENROUTER_API_KEY is known; without it no provider is configured and the plugin answers "no model". */
  readonly hasModelKey: boolean
  readonly pluginDir?: string
}

export const buildOpenClawConfig = ({ settings, hasModelKey, pluginDir = convosPluginDir() }: OpenClawConfigInput) => ({
  gateway: {
    mode: "local",
    bind: settings.bind,
    port: settings.port,
    auth: { mode: "token", token: "${OPENCLAW_GATEWAY_TOKEN}" },
    reload: { mode: "hybrid" },
  },
  agents: {
    defaults: {
      workspace: settings.workspaceDir,
      // We write the workspace files ourselves (see workspace.ts).
      skipBootstrap: true,
      // IDENTITY.md carries up to 20,000 chars of instructions plus its header: past OpenClaw's default 20,000 it
      // would be cut silently (workspace.ts BOOTSTRAP_MAX_CHARS).
      bootstrapMaxChars: BOOTSTRAP_MAX_CHARS,
      bootstrapTotalMaxChars: BOOTSTRAP_TOTAL_MAX_CHARS,
      heartbeat: { every: "0m" },
      sandbox: { mode: "off" },
      model: { primary: `${MODEL_PROVIDER_ID}/${settings.model}` },
    },
  },
  models: {
    mode: "merge",
    catalogRefresh: { enabled: false },
    ...(hasModelKey
      ? {
          providers: {
            [MODEL_PROVIDER_ID]: {
              baseUrl: "${OPENROUTER_BASE_URL}",
              apiKey: "${OPENROUTER_API_KEY}",
              api: "openai-completions",
              models: [{
                id: settings.model,
                name: settings.model,
                reasoning: false,
                input: ["text"],
                cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 },
                contextWindow: 200000,
                maxTokens: 8192,
              }],
            },
          },
        }
      : {}),
  },
  channels: { [CHANNEL_ID]: { enabled: true } },
  tools: { web: { search: { enabled: false } } },
  update: { checkOnStart: false },
  plugins: {
    allow: [CHANNEL_ID, "memory-core"],
    load: { paths: [pluginDir] },
    entries: { [CHANNEL_ID]: { enabled: true } },
  },
})

export type OpenClawConfig = ReturnType<typeof buildOpenClawConfig>
