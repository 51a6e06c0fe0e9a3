import { Effect, Option } from "effect"
import { optionalString, readConfig } from "../http/env.ts"

// The environment every agent runtime boots with, built from the pool's own config in ONE place for every compute
// layer (local child processes and Railway services alike). The pool creates instances with an empty spec.env, so
// without this a Railway agent never learns its network and model (the runtime falls back to a devnet that does not
// exist there).
//
// What is here: the messaging network (XMTP_ENV, or DEVNET_URL for a devnet), the model endpoint and id, the invite
// link prefix. What is NOT here: secrets. Per-agent keys (OPENROUTER_API_KEY, AGENTMAIL_API_KEY + inbox,
// TELNYX_API_KEY + number, BANKR_API_KEY + wallet) come with the claim, in the provision body (AgentResources), so an
// idle instance holds no key and a skill turns on only when its resource was granted.

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
}

export class RuntimeEnvError extends Error {
  readonly _tag = "RuntimeEnvError"
}

/** Pure: the boot env of an agent from the pool's settings. XMTP wins over a devnet (as in messaging/layers.ts). */
export const buildRuntimeBootEnv = (input: RuntimeBootEnvInput): Record<string, string> => {
  if (input.xmtpEnv !== null && input.xmtpEnv !== "dev" && input.xmtpEnv !== "production") {
    throw new RuntimeEnvError(`XMTP_ENV must be "dev" or "production" (or unset for the devnet), got "${input.xmtpEnv}".`)
  }
  return {
    ...(input.xmtpEnv ? { XMTP_ENV: input.xmtpEnv } : input.devnetUrl ? { DEVNET_URL: input.devnetUrl } : {}),
    ...(input.xmtpEnv && input.xmtpApiUrl ? { XMTP_API_URL: input.xmtpApiUrl } : {}),
    OPENROUTER_BASE_URL: runtimeOpenRouterUrl(input.openrouterBaseUrl),
    ...(input.primaryModel ? { OPENCLAW_PRIMARY_MODEL: input.primaryModel } : {}),
    ...(input.inviteBaseUrl ? { CONVOS_INVITE_BASE_URL: input.inviteBaseUrl } : {}),
  }
}

/** The boot env from config (env vars). `devnetUrl` is the running devnet's URL when the pool knows it. */
export const runtimeBootEnv = (options: { readonly devnetUrl?: string | null } = {}) =>
  Effect.gen(function* () {
    const read = (name: string) => readConfig(optionalString(name)).pipe(Effect.map(Option.getOrNull))
    const input: RuntimeBootEnvInput = {
      xmtpEnv: yield* read("XMTP_ENV"),
      devnetUrl: (yield* read("DEVNET_URL")) ?? options.devnetUrl ?? null,
      openrouterBaseUrl: yield* read("OPENROUTER_BASE_URL"),
      primaryModel: yield* read("OPENCLAW_PRIMARY_MODEL"),
      inviteBaseUrl: yield* read("CONVOS_INVITE_BASE_URL"),
      xmtpApiUrl: yield* read("XMTP_API_URL"),
    }
    return yield* Effect.try({ try: () => buildRuntimeBootEnv(input), catch: (e) => e as RuntimeEnvError }).pipe(Effect.orDie)
  })

/**
 * For compute that runs agents away from this machine (Railway): a devnet on loopback cannot be reached from there,
 * so an agent would never become ready. Fails loudly at start instead.
 */
export const requireRemoteReachableNetwork = (env: Readonly<Record<string, string>>, where: string) => {
  if (env.XMTP_ENV) return
  const devnet = env.DEVNET_URL
  if (devnet && !/^https?:\/\/(127\.|localhost|\[::1\]|0\.0\.0\.0)/.test(devnet)) return
  throw new RuntimeEnvError(
    `${where} agents run on another machine and cannot reach this machine's devnet${devnet ? ` (${devnet})` : ""}: set XMTP_ENV=dev or XMTP_ENV=production (or DEVNET_URL to a devnet they can reach).`
  )
}
