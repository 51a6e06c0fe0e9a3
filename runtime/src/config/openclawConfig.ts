// The OpenClaw config (openclaw.json, JSON5-compatible JSON) for one agent instance. Pure: settings + env in, object out.
// Offline-safe by construction: no update check, no remote model catalog, no web-search plugin auto-install, only our
// channel plugin (plus the memory slot OpenClaw always loads) allowed. Secrets are referenced as ${VAR}, never inlined.
import { convosPluginDir, openRouterModelId, perplexityPluginDir, type RuntimeSettings } from "./settings.ts"
import { BOOTSTRAP_MAX_CHARS, BOOTSTRAP_TOTAL_MAX_CHARS } from "./workspace.ts"

export const CHANNEL_ID = "convos"
/** Our own provider id for OpenRouter's OpenAI-compatible API: naming it "openrouter" would auto-enable the bundled
 * openrouter plugin, which fetches https://openrouter.ai model capabilities at every start (not offline-safe). */
export const MODEL_PROVIDER_ID = "convos-openrouter"
/** The provider id of the configured OpenAI-compatible endpoint (MODEL_BASE_URL), used without an OpenRouter key. */
export const ENDPOINT_PROVIDER_ID = "convos-model"

/**
 * The typed agent tools of the convos plugin (runtime/gateway/extensions/convos/openclaw.plugin.json contracts.tools;
 * a test checks the lists agree). Each is offered only while the agent holds that service (agentTools.ts).
 */
export const AGENT_SERVICE_TOOLS = ["send_email", "list_emails", "send_sms", "wallet_address"] as const

/**
 * What a chat agent may call (tools.allow: deny wins, and nothing outside this list reaches the model): our service
 * tools, OpenClaw's memory tools and the file tools confined to the workspace (tools.fs.workspaceOnly), plus
 * web_search when a search route is configured. Everything that runs commands, reaches other sessions or agents,
 * schedules work or changes the gateway is denied by name as well, so a later allow (per agent, per provider) cannot
 * bring it back: see docs/security.md.
 */
export const allowedTools = (webSearch: boolean): ReadonlyArray<string> => [
  ...AGENT_SERVICE_TOOLS,
  "memory_search",
  "memory_get",
  "read",
  "write",
  "edit",
  ...(webSearch ? ["web_search"] : []),
]

export const DENIED_TOOLS = [
  "group:runtime", // exec, process, code_execution (and the bash alias)
  "exec",
  "process",
  "code_execution",
  "apply_patch",
  "group:automation", // cron, gateway, plugins, openclaw, heartbeat_respond
  "group:nodes",
  "group:ui", // browser, terminal, canvas …
  "sessions_spawn",
  "sessions_send",
  "subagents",
  "web_fetch", // fetches arbitrary URLs from inside the deployment (loopback, the pool's network)
] as const

export interface OpenClawConfigInput {
  readonly settings: RuntimeSettings
  /** Whether OPENROUTER_API_KEY is known; without it no provider is configured and the plugin answers "no model". */
  readonly hasModelKey: boolean
  /** Whether MODEL_API_KEY is set (a local server needs none; OpenClaw then sends a placeholder). */
  readonly hasEndpointKey?: boolean
  /**
   * The agent's own model (its template's or its owner's `/model`, kept in its state); absent or null: the configured
   * one. Only the model id changes: OpenRouter stays OpenRouter, the model server stays the model server.
   */
  readonly model?: string | null
  /**
   * Web search through OpenRouter: OpenClaw's Perplexity plugin (pinned in runtime/gateway) on its OpenRouter route
   * (chat completions at OPENROUTER_BASE_URL with the agent's OPENROUTER_API_KEY, a Perplexity Sonar model): whether
   * the plugin is installed (apply.ts checks). Search is on only with a model key as well.
   */
  readonly webSearch?: boolean
  readonly pluginDir?: string
  readonly searchPluginDir?: string
}

/** The plugin id of OpenClaw's Perplexity web-search provider (@openclaw/perplexity-plugin). */
export const SEARCH_PLUGIN_ID = "perplexity"
/** OpenRouter's id of Perplexity Sonar (fast Q&A with web search and citations; openrouter.ai/perplexity/sonar). */
export const SEARCH_MODEL = "perplexity/sonar"

const modelEntry = (id: string) => ({
  id,
  name: id,
  reasoning: false,
  input: ["text"],
  cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 },
  contextWindow: 200000,
  maxTokens: 8192,
})

/** The model id the agent thinks with on OpenRouter (priority) or on the configured endpoint; null when neither. */
export const effectiveModel = (
  settings: RuntimeSettings,
  hasModelKey: boolean,
  own: string | null | undefined,
): string | null =>
  hasModelKey
    ? own
      ? openRouterModelId(own)
      : settings.model
    : settings.modelEndpoint
      ? own || settings.modelEndpoint.model
      : null

/** The model provider: OpenRouter with the agent's key (priority), else the configured endpoint, else none. */
const modelProvider = (
  settings: RuntimeSettings,
  hasModelKey: boolean,
  hasEndpointKey: boolean,
  own: string | null | undefined,
) => {
  const model = effectiveModel(settings, hasModelKey, own)
  if (model === null) return null
  return hasModelKey
    ? {
        id: MODEL_PROVIDER_ID,
        model,
        provider: {
          baseUrl: "${OPENROUTER_BASE_URL}",
          apiKey: "${OPENROUTER_API_KEY}",
          api: "openai-completions",
          models: [modelEntry(model)],
        },
      }
    : {
        id: ENDPOINT_PROVIDER_ID,
        model,
        provider: {
          baseUrl: "${MODEL_BASE_URL}",
          apiKey: hasEndpointKey ? "${MODEL_API_KEY}" : "no-key",
          api: "openai-completions",
          models: [modelEntry(model)],
        },
      }
}

export const buildOpenClawConfig = ({
  settings,
  hasModelKey,
  hasEndpointKey = false,
  model = null,
  webSearch = false,
  pluginDir = convosPluginDir(),
  searchPluginDir = perplexityPluginDir(),
}: OpenClawConfigInput) => {
  const search = webSearch && hasModelKey
  const provider = modelProvider(settings, hasModelKey, hasEndpointKey, model)
  return {
    gateway: {
      mode: "local",
      bind: settings.bind,
      port: settings.port,
      // Failed gateway-auth attempts are limited (on Railway the gateway has a public domain; `openclaw security audit`
      // flags an exposed gateway without it).
      auth: {
        mode: "token",
        token: "${OPENCLAW_GATEWAY_TOKEN}",
        rateLimit: { maxAttempts: 10, windowMs: 60_000, lockoutMs: 300_000 },
      },
      // Nobody operates an agent through OpenClaw's dashboard: the pool speaks the instance contract only.
      controlUi: { enabled: false },
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
        // Off ("0m") unless AGENT_HEARTBEAT_EVERY sets a cadence (HEARTBEAT.md says which).
        heartbeat: { every: settings.heartbeatEvery },
        sandbox: { mode: "off" },
        model: { primary: provider ? `${provider.id}/${provider.model}` : `${MODEL_PROVIDER_ID}/${settings.model}` },
      },
    },
    models: {
      mode: "merge",
      catalogRefresh: { enabled: false },
      ...(provider ? { providers: { [provider.id]: provider.provider } } : {}),
    },
    channels: { [CHANNEL_ID]: { enabled: true } },
    tools: {
      allow: [...allowedTools(search)],
      deny: [...DENIED_TOOLS],
      fs: { workspaceOnly: true },
      // Every allowed tool's schema goes to the model directly. OpenClaw's default Tool Search hides a catalog behind
      // tool_search/tool_describe/tool_call, which costs discovery turns for a catalog this small and is easy to get
      // wrong for a small local model (docs/tools/tool-search.md: "Set tools.toolSearch: false when direct schemas suit").
      toolSearch: false,
      // Belt and braces: even if exec were ever allowed, the host policy refuses every command
      // (`openclaw exec-policy show` reports security=deny for tools.exec; a test runs it).
      exec: { host: "gateway", security: "deny", ask: "off", applyPatch: { enabled: false, workspaceOnly: true } },
      elevated: { enabled: false },
      agentToAgent: { enabled: false },
      // Each conversation is its own session: none may read another (the session tools are not allowed either).
      sessions: { visibility: "self" },
      // Without a search route, search stays off explicitly: else OpenClaw tries to install a search plugin at start.
      web: {
        search: search ? { enabled: true, provider: SEARCH_PLUGIN_ID } : { enabled: false },
        fetch: { enabled: false },
      },
    },
    update: { checkOnStart: false },
    // The search plugin is loaded whenever it is installed, key or not: OpenClaw loads plugins at start only (a new
    // load path in a hot reload is ignored), while the key arrives later, at provision. The key then only switches
    // tools.web.search on and gives the plugin its config, both of which hot-reload.
    plugins: {
      allow: [CHANNEL_ID, "memory-core", ...(webSearch ? [SEARCH_PLUGIN_ID] : [])],
      load: { paths: [pluginDir, ...(webSearch ? [searchPluginDir] : [])] },
      entries: {
        [CHANNEL_ID]: { enabled: true },
        ...(webSearch
          ? {
              // A baseUrl makes the plugin use OpenRouter's chat completions (its documented OpenRouter route); keys by
              // reference only, never inlined.
              [SEARCH_PLUGIN_ID]: search
                ? {
                    enabled: true,
                    config: {
                      webSearch: {
                        apiKey: "${OPENROUTER_API_KEY}",
                        baseUrl: "${OPENROUTER_BASE_URL}",
                        model: SEARCH_MODEL,
                      },
                    },
                  }
                : { enabled: true },
            }
          : {}),
      },
    },
  }
}

export type OpenClawConfig = ReturnType<typeof buildOpenClawConfig>
