import { Duration, Effect, Schema } from "effect"
import { ProviderError } from "../../domain/errors.ts"
import type { ComputeHandle, ComputeSpec } from "../compute/Compute.ts"
import { resourcePrefix } from "../environment.ts"
import { mayHaveHappened } from "../http/ProviderHttp.ts"
import type { RailwayApi } from "./graphql.ts"
import { pinImageDigest } from "./imageDigest.ts"
import { makeLookups, ProjectNode } from "./lookups.ts"
import type { RailwaySettings } from "./settings.ts"
import { pickEnvironment } from "./status.ts"

// Create order matters (upstream #102/#286/#371): service without a source (no deploy yet) → volume on /data →
// domain → ONE environmentPatchCommit with the image (pinned by digest), start command, container limits and
// variables, so the first and only deploy boots with its volume and all its variables. Any failure deletes what
// was created, volumes included.
//
// projectCreate/serviceCreate are not idempotent: after a timeout or 5xx the resource may exist anyway. They are
// never retried blindly: the pool looks the resource up by its name (convos-<environment>-agent-<id>, paged) first,
// uses what it finds (and deletes extra copies), and creates again only when nothing is there. Throttling
// ("one project per user every 30s", "creating volumes too quickly") is waited out by the client (./graphql.ts).

export const agentName = (environment: string, instanceId: string) =>
  `${resourcePrefix(environment)}agent-${instanceId}`

export interface Target {
  readonly projectId: string
  readonly environmentId: string
  readonly owned: boolean
}

export const makeCreate = (
  api: RailwayApi,
  settings: RailwaySettings,
  deps: {
    readonly sharedTarget: Effect.Effect<Target, ProviderError>
    readonly deleteProject: (id: string) => Effect.Effect<void, ProviderError>
    readonly deleteService: (projectId: string, serviceId: string) => Effect.Effect<void, ProviderError>
  },
) => {
  const layout = settings.layout
  const lookups = makeLookups(api, settings.pageSize ?? 100)
  const retryDelay = Duration.fromInputUnsafe(settings.http?.baseDelay ?? "1 second")

  /** A non-idempotent create: on an answer lost to a timeout/5xx, look up by name before creating again (≤ 3 creates). */
  const createOnce = <A extends { readonly id: string }>(
    create: Effect.Effect<A, ProviderError>,
    findByName: Effect.Effect<ReadonlyArray<A>, ProviderError>,
    remove: (id: string) => Effect.Effect<void, ProviderError>,
    onUncertain: () => void,
  ): Effect.Effect<A, ProviderError> =>
    Effect.gen(function* () {
      for (let attempt = 1; ; attempt++) {
        const made = yield* Effect.result(create)
        if (made._tag === "Success") return made.success
        const error = made.failure
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

  /** After a failed create: delete every copy by name (a lost answer may have left more than the last id seen). */
  const cleanup = (name: string, where: Target | null, serviceId: string | null, uncertain: boolean) =>
    Effect.gen(function* () {
      if (layout._tag === "perAgent") {
        const named = uncertain
          ? yield* lookups
              .projectsNamed(layout.workspaceId, name)
              .pipe(Effect.orElseSucceed((): ReadonlyArray<{ readonly id: string }> => []))
          : []
        const ids = new Set([...(where?.owned ? [where.projectId] : []), ...named.map((p) => p.id)])
        yield* Effect.forEach(ids, deps.deleteProject, { discard: true })
      } else if (where) {
        const named = uncertain
          ? yield* lookups
              .servicesNamed(where.projectId, name)
              .pipe(Effect.orElseSucceed((): ReadonlyArray<{ readonly id: string }> => []))
          : []
        const ids = new Set([...(serviceId ? [serviceId] : []), ...named.map((n) => n.id)])
        yield* Effect.forEach(ids, (id) => deps.deleteService(where.projectId, id), { discard: true })
      }
    }).pipe(Effect.catch((e) => Effect.logWarning(`railway: cleanup after a failed create also failed: ${e.message}`)))

  const projectTarget = (name: string, onUncertain: () => void) =>
    Effect.gen(function* () {
      if (layout._tag !== "perAgent") return yield* deps.sharedTarget
      const project = yield* createOnce(
        api
          .query(
            "create project",
            `mutation($input: ProjectCreateInput!) { projectCreate(input: $input) { id name environments { edges { node { id name } } } } }`,
            { input: { name, workspaceId: layout.workspaceId } },
            Schema.Struct({ projectCreate: ProjectNode }),
          )
          .pipe(Effect.map((r) => r.projectCreate)),
        lookups.projectsNamed(layout.workspaceId, name),
        deps.deleteProject,
        onUncertain,
      )
      const env = pickEnvironment(
        project.environments.edges.map((e) => e.node),
        null,
      )
      if (!env)
        return yield* new ProviderError({
          provider: "railway",
          operation: "create project",
          status: 200,
          retryable: false,
          fault: "rejected",
          message: `railway project ${project.id} has no environment`,
        })
      return { projectId: project.id, environmentId: env.id, owned: true }
    })

  return (spec: ComputeSpec): Effect.Effect<ComputeHandle, ProviderError> =>
    Effect.gen(function* () {
      const name = agentName(settings.environment, spec.instanceId)
      const image = yield* pinImageDigest(settings.image, settings.registry)
      let where: Target | null = null
      let serviceId: string | null = null
      let uncertain = false
      const onUncertain = () => void (uncertain = true)
      return yield* Effect.gen(function* () {
        const target = yield* projectTarget(name, onUncertain)
        where = target
        const service = yield* createOnce(
          api
            .query(
              "create service",
              `mutation($input: ServiceCreateInput!) { serviceCreate(input: $input) { id name } }`,
              { input: { projectId: target.projectId, environmentId: target.environmentId, name } },
              Schema.Struct({ serviceCreate: Schema.Struct({ id: Schema.String, name: Schema.String }) }),
            )
            .pipe(Effect.map((r) => r.serviceCreate)),
          lookups.servicesNamed(target.projectId, name),
          (id) => deps.deleteService(target.projectId, id),
          onUncertain,
        )
        serviceId = service.id
        yield* api.query(
          "create volume",
          `mutation($input: VolumeCreateInput!) { volumeCreate(input: $input) { id } }`,
          {
            input: { projectId: target.projectId, environmentId: target.environmentId, serviceId, mountPath: "/data" },
          },
          Schema.Struct({ volumeCreate: Schema.Struct({ id: Schema.String }) }),
        )
        // A domain failure is not fatal: the service works, the tick picks the domain up later.
        const domain = yield* api
          .query(
            "create domain",
            `mutation($input: ServiceDomainCreateInput!) { serviceDomainCreate(input: $input) { domain } }`,
            { input: { serviceId, environmentId: target.environmentId } },
            Schema.Struct({ serviceDomainCreate: Schema.Struct({ domain: Schema.String }) }),
          )
          .pipe(
            Effect.map((d) => d.serviceDomainCreate.domain),
            Effect.catch((e) =>
              Effect.logWarning(`railway: no domain for ${serviceId} yet: ${e.message}`).pipe(Effect.as(null)),
            ),
          )
        const variables = Object.fromEntries(
          Object.entries({
            ...settings.runtimeEnv,
            GATEWAY_BIND: "lan",
            ...spec.env,
            INSTANCE_ID: spec.instanceId,
            INSTANCE_TOKEN: spec.instanceToken,
          }).map(([k, value]) => [k, { value }]),
        )
        const limits = settings.limits
          ? {
              limitOverride: {
                containers: {
                  cpu: settings.limits.vcpus,
                  memoryBytes: Math.round(settings.limits.memoryGb * 1024 ** 3),
                },
              },
            }
          : {}
        const deploy = { ...(settings.startCommand ? { startCommand: settings.startCommand } : {}), ...limits }
        yield* api.query(
          "configure and deploy",
          `mutation($environmentId: String!, $patch: EnvironmentConfig!, $commitMessage: String) { environmentPatchCommit(environmentId: $environmentId, patch: $patch, commitMessage: $commitMessage) }`,
          {
            environmentId: target.environmentId,
            patch: {
              services: {
                [serviceId]: { source: { image }, ...(Object.keys(deploy).length > 0 ? { deploy } : {}), variables },
              },
            },
            commitMessage: `convos agent ${spec.instanceId}`,
          },
          Schema.Unknown,
          { idempotent: true }, // the same patch twice configures the same service
        )
        return {
          providerRef: serviceId,
          providerProjectRef: target.projectId,
          url: domain ? `https://${domain}` : null,
        }
      }).pipe(Effect.tapError(() => Effect.suspend(() => cleanup(name, where, serviceId, uncertain))))
    })
}
