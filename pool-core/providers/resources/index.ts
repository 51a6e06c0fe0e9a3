// Provider resources as the composition root and the apps use them: the live layer, the orphan-key sweep, and spend.
export { AgentResourcesLive, agentResourcesLayerFromEnv } from "./AgentResourcesLive.ts"
export { OrphanKeySweeperLive } from "./OrphanKeySweeper.ts"
export {
  makeSpendOf,
  spendOf,
  spendText,
  usd,
  type Spend,
  type SpendLookup,
  type SpendOf,
  type SpendOptions,
} from "./spend.ts"
