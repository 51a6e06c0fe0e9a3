import { Effect, Option } from "effect"
import type { ResourceProvider } from "../resources/ResourceProvider.ts"
import { AgentWallets } from "./AgentWallets.ts"

/**
 * A wallet per agent, kept in agent_wallets (not instance_resources). It outlives the agent's compute and goes only
 * with the agent's other resources, on release.
 */
export const walletResource = Effect.map(
  Effect.service(AgentWallets),
  (wallets): ResourceProvider => ({
    name: "wallet",
    configured: wallets.configured,
    taking: "making a wallet",
    notConfigured: "wallets are not configured",
    take: (instanceId) => Effect.map(wallets.create(instanceId), (w) => ({ externalId: w.address, env: {} })),
    record: "own",
    // instance_resources rows named "wallet" hold nothing to free: the wallet goes through releaseInstance.
    free: () => Effect.void,
    releaseInstance: (instanceId) => Effect.asVoid(wallets.remove(instanceId, "released")),
    heldBy: (instanceId) =>
      Effect.map(
        wallets.get(instanceId),
        Option.map((w) => w.address),
      ),
  }),
)
