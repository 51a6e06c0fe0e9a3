import { Config, Duration } from "effect"

// Quotas, from the environment (documented in .env.example). An agent costs an OpenRouter key, maybe a phone number
// and an inbox, and anyone can ask for one, so one person cannot take the whole pool.

export interface QuotaSettings {
  /** Live agents one chat user may hold, and one web visitor and one web visitor's IP address each (0 = no cap). */
  readonly agentsPerOwner: number
  /** Claims per hour per API client label (X-Client-Label): an API client serves many people (0 = no cap). */
  readonly apiClaimsPerHour: number
  /** A web-launched agent is released by the pool this long after it was claimed (0 = never). */
  readonly webAgentTtl: Duration.Duration
}

export const quotaDefaults: QuotaSettings = { agentsPerOwner: 3, apiClaimsPerHour: 60, webAgentTtl: Duration.hours(24) }

export const quotaSettingsConfig = Config.all({
  agentsPerOwner: Config.Int("AGENTS_PER_OWNER").pipe(Config.withDefault(quotaDefaults.agentsPerOwner)),
  apiClaimsPerHour: Config.Int("API_CLAIMS_PER_HOUR").pipe(Config.withDefault(quotaDefaults.apiClaimsPerHour)),
  webAgentTtl: Config.Duration("WEB_AGENT_TTL").pipe(Config.withDefault(quotaDefaults.webAgentTtl)),
})

/** Who counts as what: owners the pool gives out are `api:<label>` (API clients), `web:<visitor>` and chat inbox ids. */
export const apiOwner = (label: string) => `api:${label}`
export const webOwner = (visitor: string) => `web:${visitor}`
/** The quota key of a web visitor's IP address (a fresh cookie does not reset the count). */
export const webAddressKey = (ip: string) => `web-ip:${ip}`
export const isApiOwner = (claimedBy: string) => claimedBy.startsWith("api:")
export const isWebOwner = (claimedBy: string) => claimedBy.startsWith("web:")
