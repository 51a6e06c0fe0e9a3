import { Duration, Effect, Layer, Option, Redacted, Schedule, Schema } from "effect"
import { ProviderError } from "../../domain/errors.ts"
import { Compute, type ComputeHandle, type ComputeSpec, type ComputeState, type ComputeStatus } from "../compute/Compute.ts"
import { requireRemoteReachableNetwork, runtimeBootEnv } from "../compute/runtimeEnv.ts"
import { optionalSecret, optionalString, readConfig, stringOr } from "../http/env.ts"
import { mayHaveHappened, type ProviderHttpOptions } from "../http/ProviderHttp.ts"
import { isNotFound, isNotFoundMessage, makeRailwayGraphql, makeRailwayGraphqlRaw } from "./graphql.ts"

// Railway compute. Two layouts:
// - shared project (RAILWAY_PROJECT_ID + RAILWAY_ENVIRONMENT_ID): one service per agent in one project, so the whole
//   pool's status is ONE query per tick;
// - project per agent (RAILWAY_TEAM_ID): isolation per agent; status still batches up to 20 projects per request
//   with GraphQL aliases (upstream made 1+N calls per tick and hit Railway's 10K/day limit).
// Create order matters (upstream #102/#286/#371): service without a source (no deploy yet) → volume on /data →
// domain → ONE environmentPatchCommit with image + start command + variables, so the first and only deploy
// boots with its volume and all its variables. Any failure deletes what was created.
//
// The image is OURS (RAILWAY_RUNTIME_IMAGE, built from runtime/Dockerfile; required, no default: upstream's
// convos-runtime image has another contract). Each service's variables are the pool's runtime env
// (../compute/runtimeEnv.ts: XMTP_ENV, OPENROUTER_BASE_URL, OPENCLAW_PRIMARY_MODEL …) plus the instance id and token.
//
// projectCreate/serviceCreate are not idempotent: after a timeout or 5xx the project may exist anyway. They are never
// retried blindly: the pool looks the resource up by its name (convos-agent-<id>) first, uses what it finds (and
// deletes extra copies), and only creates again when nothing is there. Cleanup after a failed create deletes every
// project/service of that name, not only the last id it saw.
//
// Status: services are paged (a project can hold more than a page); a GraphQL error for one alias makes that
// project's or service's instances `unknown` (the tick keeps their last state), unless Railway says it is not found
// (then they are gone).

export interface RailwaySettings {
  readonly token: Redacted.Redacted<string>
  readonly url: string
  readonly image: string
  readonly startCommand: string | null
  readonly layout: { readonly _tag: "shared"; readonly projectId: string; readonly environmentId: string } | { readonly _tag: "perAgent"; readonly workspaceId: string }
  /** The pool's runtime env for every agent (runtimeBootEnv); set as service variables next to the instance's own. */
  readonly runtimeEnv?: Readonly<Record<string, string>>
  /** Services per status page (default 100). */
  readonly statusPageSize?: number
  readonly http?: Partial<ProviderHttpOptions>
}

export const RAILWAY_IMAGE_HINT =
  "set RAILWAY_RUNTIME_IMAGE to the agent runtime image built from runtime/Dockerfile (docker build -f runtime/Dockerfile -t <registry>/convos-agent-runtime:<tag> . && docker push …)"

const Id = Schema.Struct({ id: Schema.String })
const ProjectNode = Schema.Struct({
  id: Schema.String,
  name: Schema.optional(Schema.String),
  environments: Schema.Struct({ edges: Schema.Array(Schema.Struct({ node: Schema.Struct({ id: Schema.String, name: Schema.String }) })) }),
})
const ProjectCreated = Schema.Struct({ projectCreate: ProjectNode })
const ProjectsByName = Schema.Struct({
  workspace: Schema.NullOr(Schema.Struct({ projects: Schema.Struct({ edges: Schema.Array(Schema.Struct({ node: ProjectNode })) }) })),
})
const ServicesByName = Schema.Struct({
  project: Schema.NullOr(Schema.Struct({ services: Schema.Struct({ edges: Schema.Array(Schema.Struct({ node: Schema.Struct({ id: Schema.String, name: Schema.String }) })) }) })),
})
const ServiceNode = Schema.Struct({
  id: Schema.String,
  serviceInstances: Schema.optional(
    Schema.Struct({ edges: Schema.Array(Schema.Struct({ node: Schema.Struct({ domains: Schema.optional(Schema.Struct({ serviceDomains: Schema.Array(Schema.Struct({ domain: Schema.String })) })) }) })) })
  ),
  deployments: Schema.optional(Schema.Struct({ edges: Schema.Array(Schema.Struct({ node: Schema.Struct({ id: Schema.String, status: Schema.String }) })) })),
})
const PageInfo = Schema.Struct({ hasNextPage: Schema.Boolean, endCursor: Schema.optional(Schema.NullOr(Schema.String)) })
const ProjectServices = Schema.NullOr(
  Schema.Struct({ services: Schema.Struct({ edges: Schema.Array(Schema.Struct({ node: ServiceNode })), pageInfo: Schema.optional(PageInfo) }) })
)

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
    case "REMOVING":
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
      retryRateLimited(gql("delete project", `mutation($id: String!) { projectDelete(id: $id) }`, { id: projectId }, Schema.Unknown, { idempotent: true })).pipe(
        Effect.catchIf(isNotFound, () => Effect.void),
        Effect.asVoid
      )
    const deleteService = (serviceId: string) =>
      retryRateLimited(gql("delete service", `mutation($id: String!) { serviceDelete(id: $id) }`, { id: serviceId }, Schema.Unknown, { idempotent: true })).pipe(
        Effect.catchIf(isNotFound, () => Effect.void),
        Effect.asVoid
      )

    const retryDelay = Duration.fromInputUnsafe(settings.http?.baseDelay ?? "1 second")
    const serviceName = (instanceId: string) => `convos-agent-${instanceId}`

    /**
     * A create that is not idempotent: on an answer lost to a timeout/5xx, look up by name before creating again
     * (at most 3 creates). Several found (an earlier lost answer): keep the first, delete the others.
     */
    const createOnce = <A extends { readonly id: string }>(
      create: Effect.Effect<A, ProviderError>,
      findByName: Effect.Effect<ReadonlyArray<A>, ProviderError>,
      remove: (id: string) => Effect.Effect<void, ProviderError>,
      onUncertain: () => void
    ): Effect.Effect<A, ProviderError> =>
      Effect.gen(function* () {
        for (let attempt = 1; ; attempt++) {
          const made = yield* Effect.result(create)
          if (made._tag === "Success") return made.success
          const error = made.failure
          // An answer we could not read may still mean "done": cleanup looks for it by name.
          if (mayHaveHappened(error) || /unexpected shape|not JSON/.test(error.message)) onUncertain()
          if (!mayHaveHappened(error)) return yield* Effect.fail(error)
          const found = yield* findByName.pipe(Effect.mapError(() => error))
          if (found.length > 0) {
            yield* Effect.forEach(found.slice(1), (extra) => remove(extra.id).pipe(Effect.ignore), { discard: true })
            return found[0]!
          }
          if (attempt >= 3) return yield* Effect.fail(error)
          yield* Effect.sleep(Duration.times(retryDelay, attempt))
        }
      })

    const projectsNamed = (name: string): Effect.Effect<ReadonlyArray<typeof ProjectNode.Type>, ProviderError> =>
      layout._tag !== "perAgent"
        ? Effect.succeed([])
        : gql(
            "find project",
            `query($workspaceId: String!) { workspace(workspaceId: $workspaceId) { projects { edges { node { id name environments { edges { node { id name } } } } } } } }`,
            { workspaceId: layout.workspaceId },
            ProjectsByName
          ).pipe(Effect.map((r) => (r.workspace?.projects.edges ?? []).map((e) => e.node).filter((p) => p.name === name)))

    const servicesNamed = (projectId: string, name: string): Effect.Effect<ReadonlyArray<{ readonly id: string; readonly name: string }>, ProviderError> =>
      gql("find service", `query($id: String!) { project(id: $id) { services { edges { node { id name } } } } }`, { id: projectId }, ServicesByName).pipe(
        Effect.map((r) => (r.project?.services.edges ?? []).map((e) => e.node).filter((n) => n.name === name))
      )

    /** After a failed create: delete every copy by name (a lost answer may have left more than the last id seen). */
    const cleanup = (name: string, where: { readonly projectId: string; readonly owned: boolean } | null, serviceId: string | null, uncertain: boolean) =>
      Effect.gen(function* () {
        if (layout._tag === "perAgent") {
          const named = uncertain ? yield* projectsNamed(name).pipe(Effect.orElseSucceed((): ReadonlyArray<{ readonly id: string }> => [])) : []
          const ids = new Set([...(where?.owned ? [where.projectId] : []), ...named.map((p) => p.id)])
          yield* Effect.forEach(ids, deleteProject, { discard: true })
        } else if (where) {
          const named = uncertain ? yield* servicesNamed(where.projectId, name).pipe(Effect.orElseSucceed((): ReadonlyArray<{ readonly id: string }> => [])) : []
          const ids = new Set([...(serviceId ? [serviceId] : []), ...named.map((n) => n.id)])
          yield* Effect.forEach(ids, deleteService, { discard: true })
        }
      }).pipe(Effect.catch((e) => Effect.logWarning(`railway: cleanup after a failed create also failed: ${e.message}`)))

    const create = (spec: ComputeSpec): Effect.Effect<ComputeHandle, ProviderError> =>
      Effect.gen(function* () {
        const name = serviceName(spec.instanceId)
        let where: { projectId: string; environmentId: string; owned: boolean } | null = null
        let serviceId: string | null = null
        let uncertain = false
        const onUncertain = () => void (uncertain = true)
        return yield* Effect.gen(function* () {
          if (layout._tag === "shared") {
            where = { projectId: layout.projectId, environmentId: layout.environmentId, owned: false }
          } else {
            const project = yield* createOnce(
              retryRateLimited(
                gql(
                  "create project",
                  `mutation($input: ProjectCreateInput!) { projectCreate(input: $input) { id environments { edges { node { id name } } } } }`,
                  { input: { name, workspaceId: layout.workspaceId } },
                  ProjectCreated
                )
              ).pipe(Effect.map((r) => r.projectCreate)),
              projectsNamed(name),
              deleteProject,
              onUncertain
            )
            where = { projectId: project.id, environmentId: "", owned: true }
            const envs = project.environments.edges.map((e) => e.node)
            const env = envs.find((e) => e.name === "production") ?? envs[0]
            if (!env) return yield* new ProviderError({ provider: "railway", operation: "create project", status: 200, retryable: false, message: `railway project ${project.id} has no environment` })
            where.environmentId = env.id
          }
          const target = where
          const service = yield* createOnce(
            gql(
              "create service",
              `mutation($input: ServiceCreateInput!) { serviceCreate(input: $input) { id } }`,
              { input: { projectId: target.projectId, environmentId: target.environmentId, name } },
              Schema.Struct({ serviceCreate: Id })
            ).pipe(Effect.map((r) => r.serviceCreate)),
            servicesNamed(target.projectId, name),
            deleteService,
            onUncertain
          )
          serviceId = service.id
          yield* retryRateLimited(
            gql(
              "create volume",
              `mutation($input: VolumeCreateInput!) { volumeCreate(input: $input) { id } }`,
              { input: { projectId: target.projectId, environmentId: target.environmentId, serviceId, mountPath: "/data" } },
              Schema.Struct({ volumeCreate: Id })
            )
          )
          // A domain failure is not fatal: the service works, the tick picks the domain up later.
          const domain = yield* gql(
            "create domain",
            `mutation($input: ServiceDomainCreateInput!) { serviceDomainCreate(input: $input) { domain } }`,
            { input: { serviceId, environmentId: target.environmentId } },
            Schema.Struct({ serviceDomainCreate: Schema.Struct({ domain: Schema.String }) })
          ).pipe(
            Effect.map((d) => d.serviceDomainCreate.domain),
            Effect.catch((e) => Effect.logWarning(`railway: no domain for ${serviceId} yet: ${e.message}`).pipe(Effect.as(null)))
          )
          const variables = Object.fromEntries(
            Object.entries({ ...settings.runtimeEnv, GATEWAY_BIND: "lan", ...spec.env, INSTANCE_ID: spec.instanceId, INSTANCE_TOKEN: spec.instanceToken }).map(([k, value]) => [k, { value }])
          )
          yield* gql(
            "configure and deploy",
            `mutation($environmentId: String!, $patch: EnvironmentConfig!, $commitMessage: String) { environmentPatchCommit(environmentId: $environmentId, patch: $patch, commitMessage: $commitMessage) }`,
            {
              environmentId: target.environmentId,
              patch: { services: { [serviceId]: { source: { image: settings.image }, ...(settings.startCommand ? { deploy: { startCommand: settings.startCommand } } : {}), variables } } },
              commitMessage: `convos agent ${spec.instanceId}`,
            },
            Schema.Unknown,
            { idempotent: true } // the same patch twice configures the same service
          )
          return { providerRef: serviceId, providerProjectRef: target.projectId, url: domain ? `https://${domain}` : null }
        }).pipe(Effect.tapError(() => Effect.suspend(() => cleanup(name, where, serviceId, uncertain))))
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

    const pageSize = settings.statusPageSize ?? 100
    const servicesPage = (after: string | null) =>
      `services(first: ${pageSize}${after === null ? "" : `, after: ${JSON.stringify(after)}`}) { edges { node { ${serviceFields} } } pageInfo { hasNextPage endCursor } }`
    const shapeError = () => new ProviderError({ provider: "railway", operation: "status", status: 200, retryable: false, message: "railway status answered data of an unexpected shape" })

    const statusBatch = (refs: ReadonlyArray<{ providerRef: string; providerProjectRef: string | null }>) =>
      Effect.gen(function* () {
        const out = new Map<string, ComputeStatus>()
        /** Projects / loose services Railway could not answer for this time: their instances are unknown, not gone. */
        const unknownProjects = new Set<string>()
        const unknownServices = new Set<string>()
        const projects = [...new Set(refs.flatMap((r) => (r.providerProjectRef ? [r.providerProjectRef] : [])))]
        const loose = refs.filter((r) => !r.providerProjectRef).map((r) => r.providerRef)
        const items = [...projects.map((id) => ({ kind: "p" as const, id })), ...loose.map((id) => ({ kind: "s" as const, id }))]
        const markUnknown = (it: { kind: "p" | "s"; id: string }) => (it.kind === "p" ? unknownProjects : unknownServices).add(it.id)
        const more: Array<{ projectId: string; after: string }> = []
        for (let i = 0; i < items.length; i += 20) {
          const chunk = items.slice(i, i + 20)
          const vars = chunk.map((_, j) => `$v${j}: String!`).join(", ")
          const fields = chunk.map((it, j) => (it.kind === "p" ? `a${j}: project(id: $v${j}) { ${servicesPage(null)} }` : `a${j}: service(id: $v${j}) { ${serviceFields} }`)).join(" ")
          const answer = yield* raw("status", `query(${vars}) { ${fields} }`, Object.fromEntries(chunk.map((it, j) => [`v${j}`, it.id])))
          if (answer.data === null) {
            return yield* new ProviderError({ provider: "railway", operation: "status", status: 200, retryable: true, message: `railway status failed: ${answer.errors.map((e) => e.message).join("; ")}` })
          }
          const errorsOf = (alias: string) => answer.errors.filter((e) => e.path?.[0] === alias)
          // Errors without a path cannot be tied to an alias: only "not found" ones still let a null alias mean gone.
          const unplacedOther = answer.errors.some((e) => (!e.path || !chunk.some((_, j) => e.path![0] === `a${j}`)) && !isNotFoundMessage(e.message))
          for (const [j, it] of chunk.entries()) {
            const alias = `a${j}`
            const value = answer.data[alias]
            const errors = errorsOf(alias)
            // Missing, or null with an error that is not "not found" (its own, or one Railway did not place): unknown.
            if (value === undefined || (value === null && (errors.some((e) => !isNotFoundMessage(e.message)) || (errors.length === 0 && unplacedOther)))) {
              markUnknown(it)
              continue
            }
            if (value !== null && errors.length > 0) markUnknown(it) // partial data inside the alias: not trusted for absence
            const decoded = it.kind === "p" ? Schema.decodeUnknownOption(ProjectServices)(value) : Schema.decodeUnknownOption(Schema.NullOr(ServiceNode))(value).pipe(Option.map((s) => (s ? { services: { edges: [{ node: s }], pageInfo: undefined } } : null)))
            if (Option.isNone(decoded)) return yield* shapeError()
            for (const e of decoded.value?.services.edges ?? []) out.set(e.node.id, toStatus(e.node))
            const page = decoded.value?.services.pageInfo
            if (it.kind === "p" && page?.hasNextPage && page.endCursor) more.push({ projectId: it.id, after: page.endCursor })
          }
        }
        // Projects with more services than a page: one query per further page.
        for (const next of more) {
          let after: string | null = next.after
          while (after !== null) {
            const answer: { data: Record<string, unknown> | null; errors: ReadonlyArray<unknown> } = yield* raw("status", `query($id: String!) { project(id: $id) { ${servicesPage(after)} } }`, { id: next.projectId })
            const decoded: Option.Option<typeof ProjectServices.Type> = answer.data === null || answer.errors.length > 0 ? Option.none() : Schema.decodeUnknownOption(ProjectServices)(answer.data.project ?? null)
            if (Option.isNone(decoded) || decoded.value === null) {
              unknownProjects.add(next.projectId)
              break
            }
            for (const e of decoded.value.services.edges) out.set(e.node.id, toStatus(e.node))
            const page: typeof PageInfo.Type | undefined = decoded.value.services.pageInfo
            after = page?.hasNextPage && page.endCursor ? page.endCursor : null
          }
        }
        for (const r of refs) {
          if (out.has(r.providerRef)) continue
          const unknown = r.providerProjectRef ? unknownProjects.has(r.providerProjectRef) : unknownServices.has(r.providerRef)
          // What Railway does not list (deleted project or service) is gone; what it could not answer for is unknown.
          out.set(r.providerRef, unknown ? { providerRef: r.providerRef, state: "unknown", url: null, detail: "railway could not report it this time" } : { providerRef: r.providerRef, state: "gone", url: null })
        }
        return out as ReadonlyMap<string, ComputeStatus>
      })

    return Compute.of({ name: "railway", create, destroy, statusBatch })
  })

/**
 * Railway settings from env, or None when RAILWAY_API_TOKEN is unset (the pool then uses another compute). With the
 * token set, a missing image, layout or reachable messaging network stops the pool at start with what to set.
 */
export const railwaySettingsFromEnv = Effect.gen(function* () {
  const token = yield* readConfig(optionalSecret("RAILWAY_API_TOKEN"))
  if (Option.isNone(token)) return Option.none<RailwaySettings>()
  const url = yield* readConfig(stringOr("RAILWAY_API_URL", "https://backboard.railway.com/graphql/v2"))
  const image = yield* readConfig(optionalString("RAILWAY_RUNTIME_IMAGE"))
  if (Option.isNone(image)) return yield* Effect.die(new Error(`RAILWAY_API_TOKEN is set but Railway has no agent image: ${RAILWAY_IMAGE_HINT}.`))
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
  const runtimeEnv = yield* runtimeBootEnv()
  yield* Effect.try({ try: () => requireRemoteReachableNetwork(runtimeEnv, "Railway"), catch: (e) => e as Error }).pipe(Effect.orDie)
  return Option.some<RailwaySettings>({ token: token.value, url, image: image.value, startCommand: Option.getOrNull(startCommand), layout, runtimeEnv })
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
