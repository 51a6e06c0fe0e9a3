// pool-core: the library every app builds on. Apps import from here (runtime/ imports only "./messaging").
export * from "./domain/index.ts"
export * from "./config.ts"
export { DatabaseInfo, DatabaseLive } from "./db/Database.ts"
export { coreMigrationsFolder, MigrationFolders, migrationsWith } from "./db/migrations.ts"
export { Pool } from "./pool/Pool.ts"
export { bootFigures } from "./pool/claimQueue.ts"
export type { ClaimRequest, ClaimResult, ListFilter, OnProgress, PoolEvent, Progress, TickReport } from "./pool/Pool.ts"
export { PoolLive, makePool } from "./pool/PoolLive.ts"
export type { UpgradeFailure, UpgradeReport } from "./pool/upgrade.ts"
export {
  checkModelChoice,
  MODEL_PROBLEM_KINDS,
  type ModelProblemKind,
  type ModelSettings,
  modelSettings,
  NO_MODELS,
} from "./pool/models.ts"
export { RuntimeClient } from "./pool/RuntimeClient.ts"
export { RuntimeClientLive, makeRuntimeClient } from "./pool/RuntimeClientLive.ts"
export { limits as inputLimits } from "./pool/validation.ts"
export {
  apiOwner,
  isApiOwner,
  isWebOwner,
  quotaDefaults,
  type QuotaSettings,
  webAddressKey,
  webOwner,
} from "./pool/quota/settings.ts"
export { Compute } from "./providers/compute/Compute.ts"
export {
  AgentResources,
  AgentResourcesNone,
  type HeldResource,
  type TopUpError,
  type TopUpResult,
} from "./providers/AgentResources.ts"
