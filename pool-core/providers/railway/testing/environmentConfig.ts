import { Schema } from "effect"

// The part of Railway's `EnvironmentConfig` scalar (the `patch` of environmentPatchCommit) this project may send.
// The GraphQL schema types it as an opaque scalar, so the fake checks it here. Field names and types follow the
// model Railway's own CLI keeps of it (railwayapp/cli src/controllers/config/environment.rs: services → source,
// deploy with limitOverride.containers {cpu, memoryBytes, diskBytes}, variables {NAME: {value}}). Anything else is
// refused: Railway would ignore a misspelt key silently (an agent without its limits), which a test must catch.

const Variable = Schema.Struct({ value: Schema.String })

const ContainerLimits = Schema.Struct({
  cpu: Schema.optional(Schema.Number.check(Schema.isGreaterThan(0))),
  memoryBytes: Schema.optional(Schema.Int.check(Schema.isGreaterThan(0))),
  diskBytes: Schema.optional(Schema.Int.check(Schema.isGreaterThan(0))),
})

const DeployConfig = Schema.Struct({
  startCommand: Schema.optional(Schema.String),
  limitOverride: Schema.optional(Schema.Struct({ containers: ContainerLimits })),
})

const ServiceSource = Schema.Struct({
  image: Schema.String.check(Schema.isMinLength(1)),
})

const ServiceInstanceConfig = Schema.Struct({
  source: Schema.optional(ServiceSource),
  deploy: Schema.optional(DeployConfig),
  variables: Schema.optional(
    Schema.Record(Schema.String.check(Schema.isPattern(/^[A-Za-z_][A-Za-z0-9_]*$/)), Variable),
  ),
})

export const EnvironmentPatch = Schema.Struct({
  services: Schema.Record(Schema.String, ServiceInstanceConfig),
})
export type EnvironmentPatch = typeof EnvironmentPatch.Type

/** The patch decoded, or the reason Railway's model would not take it. Excess keys are refused. */
export const decodePatch = (patch: unknown): { ok: true; value: EnvironmentPatch } | { ok: false; reason: string } => {
  try {
    return { ok: true, value: Schema.decodeUnknownSync(EnvironmentPatch)(patch, { onExcessProperty: "error" }) }
  } catch (e) {
    return { ok: false, reason: String(e instanceof Error ? e.message : e).slice(0, 400) }
  }
}
