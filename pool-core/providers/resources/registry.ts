import { Layer } from "effect"
import { agentMailLayerFromEnv } from "../agentmail/AgentMail.ts"
import { agentMailResource } from "../agentmail/resource.ts"
import { openRouterLayerFromEnv } from "../openrouter/OpenRouter.ts"
import { openRouterResource } from "../openrouter/resource.ts"
import { telnyxLayerFromEnv } from "../telnyx/Telnyx.ts"
import { telnyxResource } from "../telnyx/resource.ts"
import { agentWalletsLayerFromEnv } from "../wallet/AgentWallets.ts"
import { walletResource } from "../wallet/resource.ts"

// The per-agent resource providers, one module each (docs/architecture.md "Where to put a new … provider"). A new one
// adds its ResourceProvider to `resourceProviders` and its service's layer to `resourceProviderLayers`.

/**
 * In acquire order: Telnyx first (most contention: fail before spending anything else), then OpenRouter, AgentMail,
 * the wallet.
 */
export const resourceProviders = [telnyxResource, openRouterResource, agentMailResource, walletResource] as const

/** Every provider's service from the environment (each with its disabled form when its settings are unset). */
export const resourceProviderLayers = Layer.mergeAll(
  telnyxLayerFromEnv,
  openRouterLayerFromEnv,
  agentMailLayerFromEnv,
  agentWalletsLayerFromEnv,
)
