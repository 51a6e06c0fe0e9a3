import { Effect, Option } from "effect"
import { InvalidConfig } from "../../domain/errors.ts"
import { optionalString, readConfig } from "../http/env.ts"

// The environment every agent runtime boots with, built from the pool's own config in ONE place for every compute
// layer (local child processes and Railway services alike). The pool creates instances with an empty spec.env, so
// without this a Railway agent never learns its network and model (the runtime falls back to a devnet that does not
// exist there).
//
// What is here: the messaging network (XMTP_ENV, or DEVNET_URL for a devnet), the model endpoint and id, the invite
// link prefix, and POOL_SERVICES_URL: where the agent reaches the pool's service API (email, SMS, wallet) with its
// INSTANCE_ID and INSTANCE_TOKEN (added per instance by the compute layer). What is NOT here: secrets. The agent's own
// OpenRouter key comes with the claim (AgentResources); org keys (Telnyx, AgentMail, Bankr) never reach an agent.

export const DEFAULT_OPENROUTER_API_URL = "https://openrouter.ai/api/v1"

/**
 * The runtime wants OpenRouter's OpenAI-compatible endpoint (…/api/v1); the pool's key API accepts the bare origin
 * too (OPENROUTER_BASE_URL=https://openrouter.ai). Any URL that already names a version path is kept as it is.
 */
export const runtimeOpenRouterUrl = (value: string | null): string => {
  if (!value) return DEFAULT_OPENROUTER_API_URL
  const trimmed = value.replace(/\/+$/, "")
  return /\/v\d+$/.test(trimmed) ? trimmed : `${trimmed}/api/v1`
}

export interface RuntimeBootEnvInput {
  readonly xmtpEnv: string | null
  readonly devnetUrl: string | null
  readonly openrouterBaseUrl: string | null
  readonly primaryModel: string | null
  readonly inviteBaseUrl: string | null
  readonly xmtpApiUrl: string | null
  /** The pool's own HTTP base URL as agents reach it (POOL_PUBLIC_URL, else from HOST/PORT); null when unknown. */
  readonly servicesUrl: string | null
  /**
   * An OpenAI-compatible model server of the operator's (MODEL_BASE_URL, MODEL, optional MODEL_API_KEY): agents use it
   * when they have no OpenRouter key of their own (OpenRouter keeps priority). Optional: absent means none.
   */
  readonly modelEndpoint?: {
    readonly baseUrl: string
    readonly model: string | null
    readonly apiKey: string | null
  } | null
}

/** Pure: the boot env of an agent from the pool's settings. XMTP wins over a devnet (as in messaging/layers.ts). */
export const buildRuntimeBootEnv = (input: RuntimeBootEnvInput): Record<string, string> => {
  if (input.xmtpEnv !== null && input.xmtpEnv !== "dev" && input.xmtpEnv !== "production") {
    throw new InvalidConfig({
      variable: "XMTP_ENV",
      message: `XMTP_ENV must be "dev" or "production" (or unset for the devnet), got "${input.xmtpEnv}".`,
    })
  }
  return {
    ...(input.xmtpEnv ? { XMTP_ENV: input.xmtpEnv } : input.devnetUrl ? { DEVNET_URL: input.devnetUrl } : {}),
    ...(input.xmtpEnv && input.xmtpApiUrl ? { XMTP_API_URL: input.xmtpApiUrl } : {}),
    OPENROUTER_BASE_URL: runtimeOpenRouterUrl(input.openrouterBaseUrl),
    ...(input.primaryModel ? { OPENCLAW_PRIMARY_MODEL: input.primaryModel } : {}),
    ...(input.inviteBaseUrl ? { CONVOS_INVITE_BASE_URL: input.inviteBaseUrl } : {}),
    ...(input.servicesUrl ? { POOL_SERVICES_URL: input.servicesUrl } : {}),
    ...(input.modelEndpoint ? modelEndpointEnv(input.modelEndpoint) : {}),
  }
}

const modelEndpointEnv = (e: NonNullable<RuntimeBootEnvInput["modelEndpoint"]>): Record<string, string> => {
  if (!/^https?:\/\/\S+$/.test(e.baseUrl))
    throw new InvalidConfig({
      variable: "MODEL_BASE_URL",
      message: `MODEL_BASE_URL must be the http(s) URL of an OpenAI-compatible server, such as http://127.0.0.1:11434/v1 (got "${e.baseUrl}").`,
    })
  if (!e.model)
    throw new InvalidConfig({
      variable: "MODEL",
      message: `MODEL_BASE_URL is set (${e.baseUrl}) but MODEL is not: set MODEL to the model id that server serves (e.g. MODEL=llama3.2).`,
    })
  return {
    MODEL_BASE_URL: e.baseUrl.replace(/\/+$/, ""),
    MODEL: e.model,
    ...(e.apiKey ? { MODEL_API_KEY: e.apiKey } : {}),
  }
}

/** Which model agents think with, in one line for `npm start`: OpenRouter (per-agent keys), the endpoint, or none. */
export const modelSourceLine = (openRouterConfigured: boolean, env: Readonly<Record<string, string>>): string =>
  openRouterConfigured
    ? `model: OpenRouter, each agent with its own capped key (${env.OPENCLAW_PRIMARY_MODEL ?? "anthropic/claude-sonnet-4-6"})`
    : env.MODEL_BASE_URL
      ? `model: ${env.MODEL} at ${env.MODEL_BASE_URL}${env.MODEL_API_KEY ? " (with MODEL_API_KEY)" : " (no key)"}`
      : 'model: none configured (agents answer "no model configured"); set MODEL_BASE_URL and MODEL for a local model server, or OPENROUTER_MANAGEMENT_KEY'

/**
 * The pool's base URL for agents: POOL_PUBLIC_URL (an http(s) URL; trailing slashes dropped), else Railway's public
 * domain of the pool service (RAILWAY_PUBLIC_DOMAIN), else the local server (HOST/PORT, a wildcard host reached on
 * loopback). PORT=0 (any free port) is known only after listening: then null, unless POOL_PUBLIC_URL is set.
 */
export const poolServicesUrl = (v: {
  readonly publicUrl: string | null
  readonly railwayDomain: string | null
  readonly host: string | null
  readonly port: string | null
}): string | null => {
  if (v.publicUrl) {
    if (!/^https?:\/\/[^\s/]+(\/[^\s]*)?$/.test(v.publicUrl))
      throw new InvalidConfig({
        variable: "POOL_PUBLIC_URL",
        message: `POOL_PUBLIC_URL must be an http(s) URL such as https://pool.example.com (got "${v.publicUrl}").`,
      })
    return v.publicUrl.replace(/\/+$/, "")
  }
  if (v.railwayDomain) return `https://${v.railwayDomain.replace(/\/+$/, "")}`
  const port = (v.port ?? "8080").trim()
  if (!/^\d{1,5}$/.test(port) || port === "0") return null
  const raw = (v.host ?? "127.0.0.1").trim().replace(/^\[(.*)\]$/, "$1")
  const host = raw === "0.0.0.0" || raw === "::" || raw === "" ? "127.0.0.1" : raw
  return `http://${host.includes(":") ? `[${host}]` : host}:${port}`
}

/** Runs one of the pure checks above: its InvalidConfig becomes a typed failure (anything else is a bug: a defect). */
export const checked = <A>(f: () => A): Effect.Effect<A, InvalidConfig> =>
  Effect.try({ try: f, catch: (e) => e }).pipe(
    Effect.catch((e) => (e instanceof InvalidConfig ? Effect.fail(e) : Effect.die(e))),
  )

/** The boot env from config (env vars). `devnetUrl` is the running devnet's URL when the pool knows it. */
export const runtimeBootEnv = (options: { readonly devnetUrl?: string | null } = {}) =>
  Effect.gen(function* () {
    const read = (name: string) => readConfig(optionalString(name)).pipe(Effect.map(Option.getOrNull))
    const publicUrl = yield* read("POOL_PUBLIC_URL")
    const railwayDomain = yield* read("RAILWAY_PUBLIC_DOMAIN")
    const host = yield* read("HOST")
    const port = yield* read("PORT")
    const input: RuntimeBootEnvInput = {
      xmtpEnv: yield* read("XMTP_ENV"),
      devnetUrl: (yield* read("DEVNET_URL")) ?? options.devnetUrl ?? null,
      openrouterBaseUrl: yield* read("OPENROUTER_BASE_URL"),
      primaryModel: yield* read("OPENCLAW_PRIMARY_MODEL"),
      inviteBaseUrl: yield* read("CONVOS_INVITE_BASE_URL"),
      xmtpApiUrl: yield* read("XMTP_API_URL"),
      servicesUrl: null,
      modelEndpoint: null,
    }
    const endpointUrl = yield* read("MODEL_BASE_URL")
    const modelEndpoint = endpointUrl
      ? { baseUrl: endpointUrl, model: yield* read("MODEL"), apiKey: yield* read("MODEL_API_KEY") }
      : null
    const servicesUrl = yield* checked(() => poolServicesUrl({ publicUrl: publicUrl, railwayDomain, host, port }))
    return yield* checked(() => buildRuntimeBootEnv({ ...input, servicesUrl, modelEndpoint }))
  })

/**
 * For compute that runs agents away from this machine (Railway): a devnet on loopback cannot be reached from there,
 * so an agent would never become ready. Fails loudly at start instead.
 */
export const requireRemoteReachableNetwork = (env: Readonly<Record<string, string>>, where: string) => {
  if (env.XMTP_ENV) return
  const devnet = env.DEVNET_URL
  if (devnet && !/^https?:\/\/(127\.|localhost|\[::1\]|0\.0\.0\.0)/.test(devnet)) return
  throw new InvalidConfig({
    variable: "XMTP_ENV",
    message: `${where} agents run on another machine and cannot reach this machine's devnet${devnet ? ` (${devnet})` : ""}: set XMTP_ENV=dev or XMTP_ENV=production (or DEVNET_URL to a devnet they can reach).`,
  })
}

/**
 * For remote compute: agents reach the pool's service API (email, SMS, wallet) at POOL_SERVICES_URL. A loopback or
 * missing URL cannot be reached from another machine: those agents would have no services. Not fatal (the pool and
 * chat work without them); the message says what to set.
 */
export const remoteServicesProblem = (env: Readonly<Record<string, string>>, where: string): string | null => {
  const url = env.POOL_SERVICES_URL
  if (url && !/^https?:\/\/(127\.|localhost|\[::1\]|0\.0\.0\.0)/.test(url)) return null
  return `${where} agents cannot reach the pool's service API${url ? ` at ${url}` : ""} (email, SMS and wallet will answer nothing): set POOL_PUBLIC_URL to the pool's public https URL.`
}
