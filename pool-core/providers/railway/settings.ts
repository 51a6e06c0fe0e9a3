import { Config, Effect, Option, Redacted } from "effect"
import { fromConfigError } from "../../domain/configProblem.ts"
import { InvalidConfig } from "../../domain/errors.ts"
import { checked, remoteServicesProblem, requireRemoteReachableNetwork, runtimeBootEnv } from "../compute/runtimeEnv.ts"
import { poolEnvironment } from "../environment.ts"
import { optionalSecret, optionalString, readConfig, stringOr } from "../http/env.ts"
import type { RailwayApiOptions } from "./graphql.ts"
import type { DigestOptions } from "./imageDigest.ts"

// Railway settings from env. Tokens:
// - RAILWAY_API_TOKEN: an account or team/workspace token (Authorization: Bearer);
// - RAILWAY_API_TOKENS: more of them, comma-separated (a pool: Railway throttles project/volume creates per user);
// - RAILWAY_TOKEN: a project token (Project-Access-Token header), scoped to one environment of one project: the
//   shared layout in that project, whose ids Railway tells from the token when RAILWAY_PROJECT_ID/ENVIRONMENT_ID
//   are unset.
// Layouts: RAILWAY_TEAM_ID → a project per agent; RAILWAY_PROJECT_ID + RAILWAY_ENVIRONMENT_ID → one shared project.
// RAILWAY_TEAM_ID wins when both are set, because Railway injects RAILWAY_PROJECT_ID/RAILWAY_ENVIRONMENT_ID into
// every service it runs (the manager's own project would silently become the agents' project).

export type RailwayLayout =
  | { readonly _tag: "shared"; readonly projectId: string | null; readonly environmentId: string | null }
  | { readonly _tag: "perAgent"; readonly workspaceId: string }

export interface RailwaySettings extends RailwayApiOptions {
  readonly image: string
  readonly startCommand: string | null
  readonly layout: RailwayLayout
  /** POOL_ENVIRONMENT: every project/service name carries it (convos-<environment>-agent-<instance id>). */
  readonly environment: string
  /** Container limits per agent (Railway `limitOverride`); null leaves Railway's plan default. */
  readonly limits: { readonly vcpus: number; readonly memoryGb: number } | null
  /** The pool's runtime env for every agent (runtimeBootEnv); set as service variables next to the instance's own. */
  readonly runtimeEnv?: Readonly<Record<string, string>>
  /** Items per page when listing services (status) and projects/services/volumes (lookups). Default 100. */
  readonly pageSize?: number
  /** Image digest resolution (tests point it at a loopback registry). */
  readonly registry?: DigestOptions
}

export const RAILWAY_IMAGE_HINT =
  "set RAILWAY_RUNTIME_IMAGE to the agent runtime image built from runtime/Dockerfile (docker build -f runtime/Dockerfile -t <registry>/convos-agent-runtime:<tag> . && docker push …)"

const positive = (name: string, fallback: number) =>
  Config.Number(name).pipe(
    Config.withDefault(fallback),
    Effect.mapError(fromConfigError),
    Effect.flatMap((n) =>
      Number.isFinite(n) && n > 0
        ? Effect.succeed(n)
        : Effect.fail(
            new InvalidConfig({
              variable: name,
              message: `${name} must be a positive number (got ${n}), e.g. ${name}=${fallback}.`,
            }),
          ),
    ),
  )

/** The Railway tokens configured (any of RAILWAY_API_TOKEN, RAILWAY_API_TOKENS, RAILWAY_TOKEN), for the compose step. */
export const railwayConfigured = (env: Readonly<Record<string, string | undefined>>) =>
  ["RAILWAY_API_TOKEN", "RAILWAY_API_TOKENS", "RAILWAY_TOKEN"].some((k) => (env[k] ?? "").trim() !== "")

/**
 * Railway settings from env, or None when no Railway token is set (the pool then uses another compute). With a
 * token set, a missing image, layout or reachable messaging network stops the pool at start with what to set.
 */
export const railwaySettingsFromEnv = Effect.gen(function* () {
  const apiToken = yield* readConfig(optionalSecret("RAILWAY_API_TOKEN"))
  const list = yield* readConfig(optionalString("RAILWAY_API_TOKENS"))
  const projectToken = yield* readConfig(optionalSecret("RAILWAY_TOKEN"))
  const pooled = Option.match(list, {
    onNone: () => [],
    onSome: (s) =>
      s
        .split(",")
        .map((t) => t.trim())
        .filter((t) => t !== "")
        .map((t) => Redacted.make(t)),
  })
  const accountTokens = [...Option.toArray(apiToken), ...pooled]
  if (accountTokens.length === 0 && Option.isNone(projectToken)) return Option.none<RailwaySettings>()
  if (accountTokens.length > 0 && Option.isSome(projectToken))
    return yield* new InvalidConfig({
      variable: "RAILWAY_TOKEN",
      message:
        "Set either RAILWAY_TOKEN (a project token) or RAILWAY_API_TOKEN/RAILWAY_API_TOKENS (account or team tokens), not both.",
    })
  const url = yield* readConfig(stringOr("RAILWAY_API_URL", "https://backboard.railway.com/graphql/v2"))
  const image = yield* readConfig(optionalString("RAILWAY_RUNTIME_IMAGE"))
  if (Option.isNone(image))
    return yield* new InvalidConfig({
      variable: "RAILWAY_RUNTIME_IMAGE",
      message: `A Railway token is set but Railway has no agent image: ${RAILWAY_IMAGE_HINT}.`,
    })
  const startCommand = yield* readConfig(optionalString("RAILWAY_START_COMMAND"))
  const projectId = Option.getOrNull(yield* readConfig(optionalString("RAILWAY_PROJECT_ID")))
  const environmentId = Option.getOrNull(yield* readConfig(optionalString("RAILWAY_ENVIRONMENT_ID")))
  const teamId = yield* readConfig(optionalString("RAILWAY_TEAM_ID"))
  const isProjectToken = Option.isSome(projectToken)
  const layout: RailwayLayout | null =
    !isProjectToken && Option.isSome(teamId)
      ? { _tag: "perAgent", workspaceId: teamId.value }
      : isProjectToken || (projectId && environmentId)
        ? { _tag: "shared", projectId, environmentId }
        : null
  if (layout === null)
    return yield* new InvalidConfig({
      variable: "RAILWAY_TEAM_ID",
      message:
        "A Railway token is set but Railway has nowhere to create agents: set RAILWAY_TEAM_ID (a project per agent) or RAILWAY_PROJECT_ID and RAILWAY_ENVIRONMENT_ID (one shared project), or use a project token in RAILWAY_TOKEN.",
    })
  const railwayEnvironmentName = Option.getOrNull(yield* readConfig(optionalString("RAILWAY_ENVIRONMENT_NAME")))
  const environment = yield* poolEnvironment(railwayEnvironmentName ?? "railway")
  const vcpus = yield* positive("RAILWAY_AGENT_VCPUS", 2)
  const memoryGb = yield* positive("RAILWAY_AGENT_MEMORY_GB", 2)
  const runtimeEnv = yield* runtimeBootEnv()
  yield* checked(() => requireRemoteReachableNetwork(runtimeEnv, "Railway"))
  const servicesProblem = remoteServicesProblem(runtimeEnv, "Railway")
  if (servicesProblem) yield* Effect.logWarning(servicesProblem)
  return Option.some<RailwaySettings>({
    token: isProjectToken ? Option.getOrThrow(projectToken) : accountTokens[0]!,
    tokens: accountTokens.slice(1),
    tokenKind: isProjectToken ? "project" : "account",
    url,
    image: image.value,
    startCommand: Option.getOrNull(startCommand),
    layout,
    environment,
    limits: { vcpus, memoryGb },
    runtimeEnv,
  })
})
