// Everything the runtime reads from its environment, in one place. Secrets (tokens, provider keys) are read here and
// never printed: `describeSettings` is what logs may show.
import { existsSync, readFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { agentNameForDisplay } from "@convos-agents/contract"
import { Data } from "effect"

// Inside the gateway OpenClaw runs the plugin from a captured copy under <state>/tmp/plugin-captures, so paths derived
// from import.meta.url are wrong there: the CLI passes the real root as CONVOS_RUNTIME_ROOT. Elsewhere the root is the
// nearest folder above this module (runtime/src/config in the sources, runtime/dist once compiled) with runtime/'s files.
export const runtimeRoot = (): string => {
  if (process.env.CONVOS_RUNTIME_ROOT) return process.env.CONVOS_RUNTIME_ROOT
  const here = dirname(fileURLToPath(import.meta.url))
  for (let dir = here; dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, "gateway", "extensions", "convos", "openclaw.plugin.json"))) return dir
  }
  return resolve(here, "..", "..")
}
export const gatewayDir = () => join(runtimeRoot(), "gateway")
export const openclawEntry = () => join(gatewayDir(), "node_modules", "openclaw", "openclaw.mjs")
export const convosPluginDir = () => join(gatewayDir(), "extensions", "convos")
/** OpenClaw's Perplexity web-search plugin, a pinned dependency of runtime/gateway (web search through OpenRouter). */
export const perplexityPluginDir = () => join(gatewayDir(), "node_modules", "@openclaw", "perplexity-plugin")

export const DEFAULT_MODEL = "anthropic/claude-sonnet-4-6"

/**
 * The model id OpenRouter expects (`<vendor>/<model>`, e.g. "anthropic/claude-sonnet-4-6") from OPENCLAW_PRIMARY_MODEL,
 * which the seed and upstream write as OpenClaw model refs: `openrouter/<vendor>/<model>`. OpenRouter refuses the
 * "openrouter/" prefix on a vendor model, so it is dropped here, once; OpenRouter's own models ("openrouter/auto")
 * have no vendor part after it and stay as they are.
 */
export const openRouterModelId = (raw: string | undefined): string => {
  const model = (raw ?? "").trim()
  if (model === "") return DEFAULT_MODEL
  const rest = model.startsWith("openrouter/") ? model.slice("openrouter/".length) : null
  return rest?.includes("/") ? rest : model
}
export const DEFAULT_OPENROUTER_BASE_URL = "https://openrouter.ai/api/v1"

export interface RuntimeSettings {
  readonly stateDir: string
  readonly configPath: string
  readonly workspaceDir: string
  readonly port: number
  /** OpenClaw bind mode: "loopback" (default; local compute) or "lan" (0.0.0.0, containers such as Railway). */
  readonly bind: "loopback" | "lan"
  /** Bearer token for every route but /pool/health; also the gateway's own auth token. */
  readonly token: string | null
  /** OpenRouter model id (provider-local), e.g. "anthropic/claude-sonnet-4-6"; see openRouterModelId. */
  readonly model: string
  readonly openrouterBaseUrl: string
  /**
   * Any OpenAI-compatible model server (MODEL_BASE_URL, e.g. a local Ollama or llama.cpp server) and its model id
   * (MODEL); used when the agent has no OpenRouter key (OpenRouter keeps priority). MODEL_API_KEY is optional.
   */
  readonly modelEndpoint: { readonly baseUrl: string; readonly model: string } | null
  readonly agentName: string
  /** Agent turns that may wait behind the running one (CONVOS_TURN_QUEUE); beyond that a message gets a "busy" reply. */
  readonly turnQueue: number
  /** OpenClaw heartbeat cadence (AGENT_HEARTBEAT_EVERY, e.g. "30m"); "0m", the default, is off. */
  readonly heartbeatEvery: string
}

export const DEFAULT_TURN_QUEUE = 8

/** A runtime setting (env var) that cannot be used; the message names it and says what to set. */
export class SettingsError extends Data.TaggedError("SettingsError")<{ readonly message: string }> {}

/** Reads the runtime settings; the state dir defaults to ./.data/runtime. */
export const settingsFromEnv = (env: NodeJS.ProcessEnv): RuntimeSettings => {
  const stateDir = resolve(env.OPENCLAW_STATE_DIR || env.STATE_DIR || ".data/runtime")
  const portText = env.PORT || env.OPENCLAW_GATEWAY_PORT || "18789"
  const port = Number(portText)
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new SettingsError({
      message: `PORT must be a TCP port number (1-65535), got "${portText}". Set PORT to a free port.`,
    })
  }
  const bind = env.GATEWAY_BIND || "loopback"
  if (bind !== "loopback" && bind !== "lan") {
    throw new SettingsError({ message: `GATEWAY_BIND must be "loopback" or "lan", got "${bind}".` })
  }
  const queueText = env.CONVOS_TURN_QUEUE || String(DEFAULT_TURN_QUEUE)
  const turnQueue = Number(queueText)
  if (!Number.isInteger(turnQueue) || turnQueue < 0 || turnQueue > 1_000) {
    throw new SettingsError({
      message: `CONVOS_TURN_QUEUE must be a whole number of waiting turns from 0 to 1000, got "${queueText}". Unset it for the default (${DEFAULT_TURN_QUEUE}).`,
    })
  }
  const heartbeatEvery = (env.AGENT_HEARTBEAT_EVERY ?? "").trim() || "0m"
  if (!/^\d{1,4}[smh]$/.test(heartbeatEvery)) {
    throw new SettingsError({
      message: `AGENT_HEARTBEAT_EVERY must be a duration such as 30m, 2h or 0m (off), got "${heartbeatEvery}". Unset it to keep heartbeats off.`,
    })
  }
  const endpointUrl = (env.MODEL_BASE_URL ?? "").trim()
  const endpointModel = (env.MODEL ?? "").trim()
  if (endpointUrl !== "" && endpointModel === "") {
    throw new SettingsError({
      message: `MODEL_BASE_URL is set (${endpointUrl}) but MODEL is not. Set MODEL to the model id that server serves (e.g. MODEL=llama3.2).`,
    })
  }
  return {
    bind,
    stateDir,
    modelEndpoint: endpointUrl === "" ? null : { baseUrl: endpointUrl, model: endpointModel },
    turnQueue,
    heartbeatEvery,
    configPath: env.OPENCLAW_CONFIG_PATH ? resolve(env.OPENCLAW_CONFIG_PATH) : join(stateDir, "openclaw.json"),
    workspaceDir: join(stateDir, "workspace"),
    port,
    token: env.INSTANCE_TOKEN || env.OPENCLAW_GATEWAY_TOKEN || null,
    model: openRouterModelId(env.OPENCLAW_PRIMARY_MODEL),
    openrouterBaseUrl: env.OPENROUTER_BASE_URL || DEFAULT_OPENROUTER_BASE_URL,
    agentName: agentNameForDisplay(env.AGENT_NAME || null, "Convos Agent"),
  }
}

/** Log-safe summary: never the token or keys, only whether they are set. */
export const describeSettings = (s: RuntimeSettings, env: NodeJS.ProcessEnv): string =>
  `state=${s.stateDir} port=${s.port} model=${s.model} token=${s.token ? "set" : "MISSING"} ` +
  `openrouterKey=${env.OPENROUTER_API_KEY ? "set" : "unset"} messaging=${env.XMTP_ENV ? `xmtp:${env.XMTP_ENV}` : env.DEVNET_URL ? "devnet" : "devnet($DATA_DIR/devnet.url)"}`

// --- secrets given at provision time ------------------------------------------------------------------------------
// Kept in <state>/.env (mode 600), which OpenClaw itself also loads at start, so a restarted instance keeps its keys.

export const secretsEnvPath = (stateDir: string) => join(stateDir, ".env")

const ENV_NAME = /^[A-Z][A-Z0-9_]*$/

export const readSecretsEnv = (stateDir: string): Record<string, string> => {
  const path = secretsEnvPath(stateDir)
  if (!existsSync(path)) return {}
  const out: Record<string, string> = {}
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line)
    if (m) out[m[1]!] = JSON.parse(m[2]!) as string
  }
  return out
}

export const isEnvName = (name: string) => ENV_NAME.test(name)

export const formatSecretsEnv = (vars: Readonly<Record<string, string>>): string =>
  `${Object.entries(vars)
    .filter(([k]) => isEnvName(k))
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join("\n")}\n`
