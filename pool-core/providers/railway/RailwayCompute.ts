import { Effect, Layer, Option, Redacted, Schedule, Schema } from "effect"
import { ProviderError } from "../../domain/errors.ts"
import { Compute, type ComputeHandle, type ComputeSpec, type ComputeState, type ComputeStatus } from "../compute/Compute.ts"
import { optionalSecret, optionalString, readConfig, stringOr } from "../http/env.ts"
import type { ProviderHttpOptions } from "../http/ProviderHttp.ts"
import { isNotFound, makeRailwayGraphql, makeRailwayGraphqlRaw } from "./graphql.ts"

// Railway compute. Two layouts:
// - shared project (RAILWAY_PROJECT_ID + RAILWAY_ENVIRONMENT_ID): one service per agent in one project, so the whole
//   pool's status is ONE query per tick;
// - project per agent (RAILWAY_TEAM_ID): isolation per agent; status still batches up to 20 projects per request
//   with GraphQL aliases (upstream made 1+N calls per tick and hit Railway's 10K/day limit).
// Create order matters (upstream #102/#286/#371): service without a source (no deploy yet) → volume on /data →
// domain → ONE environmentPatchCommit with image + start command + variables, so the first and only deploy
// boots with its volume and all its variables. Any failure deletes what was created.

export interface RailwaySettings {
  readonly token: Redacted.Redacted<string>
  readonly url: string
  readonly image: string
  readonly startCommand: string | null
  readonly layout: { readonly _tag: "shared"; readonly projectId: string; readonly environmentId: string } | { readonly _tag: "perAgent"; readonly workspaceId: string }
  readonly http?: Partial<ProviderHttpOptions>
}

const Id = Schema.Struct({ id: Schema.String })
const ProjectCreated = Schema.Struct({
  projectCreate: Schema.Struct({ id: Schema.String, environments: Schema.Struct({ edges: Schema.Array(Schema.Struct({ node: Schema.Struct({ id: Schema.String, name: Schema.String }) })) }) }),
})
const ServiceNode = Schema.Struct({
  id: Schema.String,
  serviceInstances: Schema.optional(
    Schema.Struct({ edges: Schema.Array(Schema.Struct({ node: Schema.Struct({ domains: Schema.optional(Schema.Struct({ serviceDomains: Schema.Array(Schema.Struct({ domain: Schema.String })) })) }) })) })
  ),
  deployments: Schema.optional(Schema.Struct({ edges: Schema.Array(Schema.Struct({ node: Schema.Struct({ id: Schema.String, status: Schema.String }) })) })),
})
const ProjectServices = Schema.NullOr(Schema.Struct({ services: Schema.Struct({ edges: Schema.Array(Schema.Struct({ node: ServiceNode })) }) }))

const serviceFields = `id serviceInstances { edges { node { domains { serviceDomains { domain } } } } } deployments(first: 1) { edges { node { id status } } }`

export const stateOf = (deployStatus: string | undefined): ComputeState => {
  switch (deployStatus) {
    case undefined:
      return "starting" // no deployment yet
    case "SUCCESS":
      return "running"
    case "SLEEPING":
      return "sleeping"
    case "FAILED":
    case "CRASHED":
    case "SKIPPED":
      return "failed"
    case "REMOVED":
      return "gone"
    default:
      return "starting" // QUEUED WAITING BUILDING DEPLOYING INITIALIZING …
  }
}

const toStatus = (s: typeof ServiceNode.Type): ComputeStatus => {
  const deploy = s.deployments?.edges[0]?.node.status
  const domain = s.serviceInstances?.edges.flatMap((e) => e.node.domains?.serviceDomains ?? [])[0]?.domain
  return { providerRef: s.id, state: stateOf(deploy), url: domain ? `https://${domain}` : null, ...(deploy ? { detail: `deploy ${deploy}` } : {}) }
}

// Railway also rate-limits inside a 200 answer (GraphQL error "creating volumes too quickly"): those get a few more
// tries here. HTTP 429/5xx were already retried by ProviderHttp and are not retried again.
const retryRateLimited = <A>(effect: Effect.Effect<A, ProviderError>) =>
  effect.pipe(Effect.retry({ schedule: Schedule.exponential("2 seconds"), times: 3, while: (e) => e.retryable && e.status === 200 }))

export const railwayComputeLive = (settings: RailwaySettings) =>
  Layer.sync(Compute, () => {
    const gql = makeRailwayGraphql(settings)
    const raw = makeRailwayGraphqlRaw(settings)
    const layout = settings.layout

    const deleteProject = (projectId: string) =>
      retryRateLimited(gql("delete project", `mutation($id: String!) { projectDelete(id: $id) }`, { id: projectId }, Schema.Unknown)).pipe(
        Effect.catchIf(isNotFound, () => Effect.void),
        Effect.asVoid
      )
    const deleteService = (serviceId: string) =>
      retryRateLimited(gql("delete service", `mutation($id: String!) { serviceDelete(id: $id) }`, { id: serviceId }, Schema.Unknown)).pipe(
        Effect.catchIf(isNotFound, () => Effect.void),
        Effect.asVoid
      )

    const create = (spec: ComputeSpec): Effect.Effect<ComputeHandle, ProviderError> =>
      Effect.gen(function* () {
        const name = `convos-agent-${spec.instanceId}`
        const where =
          layout._tag === "shared"
            ? { projectId: layout.projectId, environmentId: layout.environmentId, owned: false }
            : yield* retryRateLimited(
                gql(
                  "create project",
                  `mutation($input: ProjectCreateInput!) { projectCreate(input: $input) { id environments { edges { node { id name } } } } }`,
                  { input: { name, workspaceId: layout.workspaceId } },
                  ProjectCreated
                )
              ).pipe(
                Effect.flatMap(({ projectCreate: p }) => {
                  const envs = p.environments.edges.map((e) => e.node)
                  const env = envs.find((e) => e.name === "production") ?? envs[0]
                  return env
                    ? Effect.succeed({ projectId: p.id, environmentId: env.id, owned: true })
                    : deleteProject(p.id).pipe(
                        Effect.andThen(Effect.fail(new ProviderError({ provider: "railway", operation: "create project", status: 200, retryable: false, message: `railway project ${p.id} has no environment` })))
                      )
                })
              )
        let serviceId: string | null = null
        return yield* Effect.gen(function* () {
          const service = yield* gql(
            "create service",
            `mutation($input: ServiceCreateInput!) { serviceCreate(input: $input) { id } }`,
            { input: { projectId: where.projectId, environmentId: where.environmentId, name } },
            Schema.Struct({ serviceCreate: Id })
          )
          serviceId = service.serviceCreate.id
          yield* retryRateLimited(
            gql(
              "create volume",
              `mutation($input: VolumeCreateInput!) { volumeCreate(input: $input) { id } }`,
              { input: { projectId: where.projectId, environmentId: where.environmentId, serviceId, mountPath: "/data" } },
              Schema.Struct({ volumeCreate: Id })
            )
          )
          // A domain failure is not fatal: the service works, the tick picks the domain up later.
          const domain = yield* gql(
            "create domain",
            `mutation($input: ServiceDomainCreateInput!) { serviceDomainCreate(input: $input) { domain } }`,
            { input: { serviceId, environmentId: where.environmentId } },
            Schema.Struct({ serviceDomainCreate: Schema.Struct({ domain: Schema.String }) })
          ).pipe(
            Effect.map((d) => d.serviceDomainCreate.domain),
            Effect.catch((e) => Effect.logWarning(`railway: no domain for ${serviceId} yet: ${e.message}`).pipe(Effect.as(null)))
          )
          const variables = Object.fromEntries(
            Object.entries({ ...spec.env, INSTANCE_ID: spec.instanceId, INSTANCE_TOKEN: spec.instanceToken }).map(([k, value]) => [k, { value }])
          )
          yield* gql(
            "configure and deploy",
            `mutation($environmentId: String!, $patch: EnvironmentConfig!, $commitMessage: String) { environmentPatchCommit(environmentId: $environmentId, patch: $patch, commitMessage: $commitMessage) }`,
            {
              environmentId: where.environmentId,
              patch: { services: { [serviceId]: { source: { image: settings.image }, ...(settings.startCommand ? { deploy: { startCommand: settings.startCommand } } : {}), variables } } },
              commitMessage: `convos agent ${spec.instanceId}`,
            },
            Schema.Unknown
          )
          return { providerRef: serviceId, providerProjectRef: where.projectId, url: domain ? `https://${domain}` : null }
        }).pipe(
          Effect.tapError(() =>
            (where.owned ? deleteProject(where.projectId) : serviceId ? deleteService(serviceId) : Effect.void).pipe(
              Effect.catch((e) => Effect.logWarning(`railway: cleanup after a failed create also failed: ${e.message}`))
            )
          )
        )
      })

    const destroy = (providerRef: string) =>
      Effect.gen(function* () {
        const found = yield* gql("find service", `query($id: String!) { service(id: $id) { id projectId } }`, { id: providerRef }, Schema.Struct({ service: Schema.NullOr(Schema.Struct({ id: Schema.String, projectId: Schema.String })) })).pipe(
          Effect.catchIf(isNotFound, () => Effect.succeed({ service: null }))
        )
        if (found.service === null) return // already gone
        if (layout._tag === "perAgent") return yield* deleteProject(found.service.projectId)
        yield* deleteService(providerRef)
      })

    const statusBatch = (refs: ReadonlyArray<{ providerRef: string; providerProjectRef: string | null }>) =>
      Effect.gen(function* () {
        const out = new Map<string, ComputeStatus>()
        const projects = [...new Set(refs.flatMap((r) => (r.providerProjectRef ? [r.providerProjectRef] : [])))]
        const loose = refs.filter((r) => !r.providerProjectRef).map((r) => r.providerRef)
        const items = [...projects.map((id) => ({ kind: "p" as const, id })), ...loose.map((id) => ({ kind: "s" as const, id }))]
        for (let i = 0; i < items.length; i += 20) {
          const chunk = items.slice(i, i + 20)
          const vars = chunk.map((_, j) => `$v${j}: String!`).join(", ")
          const fields = chunk
            .map((it, j) => (it.kind === "p" ? `a${j}: project(id: $v${j}) { services(first: 500) { edges { node { ${serviceFields} } } } }` : `a${j}: service(id: $v${j}) { ${serviceFields} }`))
            .join(" ")
          const answer = yield* raw("status", `query(${vars}) { ${fields} }`, Object.fromEntries(chunk.map((it, j) => [`v${j}`, it.id])))
          if (answer.data === null) {
            return yield* new ProviderError({ provider: "railway", operation: "status", status: 200, retryable: true, message: `railway status failed: ${answer.errors.join("; ")}` })
          }
          for (const [j, it] of chunk.entries()) {
            const value = answer.data[`a${j}`] ?? null
            const decoded = it.kind === "p" ? Schema.decodeUnknownOption(ProjectServices)(value) : Schema.decodeUnknownOption(Schema.NullOr(ServiceNode))(value).pipe(Option.map((s) => (s ? { services: { edges: [{ node: s }] } } : null)))
            if (Option.isNone(decoded)) {
              return yield* new ProviderError({ provider: "railway", operation: "status", status: 200, retryable: false, message: "railway status answered data of an unexpected shape" })
            }
            for (const e of decoded.value?.services.edges ?? []) out.set(e.node.id, toStatus(e.node))
          }
        }
        // What Railway does not list (deleted project or service) is gone.
        for (const r of refs) if (!out.has(r.providerRef)) out.set(r.providerRef, { providerRef: r.providerRef, state: "gone", url: null })
        return out as ReadonlyMap<string, ComputeStatus>
      })

    return Compute.of({ name: "railway", create, destroy, statusBatch })
  })

/** Railway settings from env, or None when RAILWAY_API_TOKEN is unset (the pool then uses another compute). */
export const railwaySettingsFromEnv = Effect.gen(function* () {
  const token = yield* readConfig(optionalSecret("RAILWAY_API_TOKEN"))
  if (Option.isNone(token)) return Option.none<RailwaySettings>()
  const url = yield* readConfig(stringOr("RAILWAY_API_URL", "https://backboard.railway.com/graphql/v2"))
  const image = yield* readConfig(stringOr("RAILWAY_RUNTIME_IMAGE", "ghcr.io/xmtplabs/convos-runtime:latest"))
  const startCommand = yield* readConfig(optionalString("RAILWAY_START_COMMAND"))
  const projectId = yield* readConfig(optionalString("RAILWAY_PROJECT_ID"))
  const environmentId = yield* readConfig(optionalString("RAILWAY_ENVIRONMENT_ID"))
  const teamId = yield* readConfig(optionalString("RAILWAY_TEAM_ID"))
  const layout: RailwaySettings["layout"] | null =
    Option.isSome(projectId) && Option.isSome(environmentId)
      ? { _tag: "shared", projectId: projectId.value, environmentId: environmentId.value }
      : Option.isSome(teamId)
        ? { _tag: "perAgent", workspaceId: teamId.value }
        : null
  if (layout === null) return yield* Effect.die(new Error("RAILWAY_API_TOKEN is set but Railway has nowhere to create agents: set RAILWAY_PROJECT_ID and RAILWAY_ENVIRONMENT_ID (one shared project) or RAILWAY_TEAM_ID (a project per agent)."))
  return Option.some<RailwaySettings>({ token: token.value, url, image, startCommand: Option.getOrNull(startCommand), layout })
})

const notConfigured = (operation: string) =>
  Effect.fail(new ProviderError({ provider: "railway", operation, status: null, retryable: false, message: "Railway is not configured: set RAILWAY_API_TOKEN (and RAILWAY_TEAM_ID or RAILWAY_PROJECT_ID + RAILWAY_ENVIRONMENT_ID)." }))

/** Compute port without keys: every call explains what to set (the Compute port's errors are ProviderError). */
export const railwayComputeDisabled = Layer.succeed(Compute, {
  name: "railway",
  create: () => notConfigured("create"),
  destroy: () => notConfigured("destroy"),
  statusBatch: () => notConfigured("status"),
})

export const railwayComputeLayerFromEnv = Layer.unwrap(
  Effect.map(railwaySettingsFromEnv, Option.match({ onNone: () => railwayComputeDisabled, onSome: railwayComputeLive }))
)
