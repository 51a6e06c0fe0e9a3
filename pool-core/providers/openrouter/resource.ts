import { Effect, Redacted } from "effect"
import type { ResourceProvider } from "../resources/ResourceProvider.ts"
import { OpenRouter } from "./OpenRouter.ts"

/** The agent's own capped OpenRouter key: the only key an agent ever gets (in its env, through the provision body). */
export const openRouterResource = Effect.map(
  Effect.service(OpenRouter),
  (openRouter): ResourceProvider => ({
    name: "openrouter",
    configured: openRouter.configured,
    take: (instanceId) =>
      Effect.map(openRouter.createKey(instanceId), (k) => ({
        externalId: k.hash,
        env: { OPENROUTER_API_KEY: Redacted.value(k.key) },
      })),
    record: "rows",
    free: (_instanceId, hash) => openRouter.deleteKey(hash),
  }),
)
