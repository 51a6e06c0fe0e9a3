import { decodePatch } from "./environmentConfig.ts"
import type { FakeProject, FakeService, FakeState, Principal } from "./state.ts"

// Root resolvers of the Railway fake. graphql-js runs them against the vendored schema, so every answer has the
// schema's shape and its null propagation: an error in a non-null root field (project, service, workspace …) nulls
// the whole `data`, as on Railway. Error messages are Railway's own wording.

export const NOT_AUTHORIZED = "Not Authorized"
export const PROJECT_THROTTLED = "Whoa there pal! Only one project can be created per user every 30s"
export const VOLUME_THROTTLED = "You are creating volumes too quickly"

export interface FakeContext {
  readonly state: FakeState
  readonly principal: Principal | null
  readonly pageSize: number
  /** Throws Railway's throttling error when this principal may not do `op` now. */
  readonly throttle: (op: "projectCreate" | "volumeCreate", principal: Principal) => void
  readonly ops: Array<string>
  /** Railway's refusal wording ("Not Authorized"; tests also try longer variants of it). */
  readonly notAuthorized: string
}

type Args = Record<string, any>

/** A Relay connection page the way Railway pages: `first` capped by the fake's page size, cursor = offset. */
const page = <A>(items: ReadonlyArray<A>, args: Args, max: number) => {
  const start = args.after == null ? 0 : Number(args.after)
  const size = Math.min(args.first ?? max, max)
  const slice = items.slice(start, start + size)
  return {
    edges: slice.map((node, i) => ({ node, cursor: String(start + i + 1) })),
    pageInfo: {
      hasNextPage: start + size < items.length,
      hasPreviousPage: start > 0,
      startCursor: slice.length ? String(start + 1) : null,
      endCursor: slice.length ? String(start + slice.length) : null,
    },
  }
}

const fail = (message: string): never => {
  throw new Error(message)
}

const principalOf = (ctx: FakeContext): Principal => ctx.principal ?? fail(ctx.notAuthorized)

const canSee = (principal: Principal, p: FakeProject) =>
  principal.kind === "workspace" ? p.workspaceId === principal.workspaceId : p.id === principal.projectId

const projectFor = (ctx: FakeContext, id: string): FakeProject => {
  const principal = principalOf(ctx)
  const p = ctx.state.projects.get(id) ?? fail("Project not found")
  return canSee(principal, p) ? p : fail(ctx.notAuthorized)
}

const serviceFor = (ctx: FakeContext, id: string): FakeService => {
  const principal = principalOf(ctx)
  const s = ctx.state.services.get(id) ?? fail("Service not found")
  return canSee(principal, ctx.state.projects.get(s.projectId)!) ? s : fail(ctx.notAuthorized)
}

/** A project token acts on its own environment only. */
const environmentFor = (ctx: FakeContext, p: FakeProject, environmentId: string | null | undefined) => {
  const principal = principalOf(ctx)
  if (environmentId == null) return null
  const env = p.environments.find((e) => e.id === environmentId) ?? fail("Environment not found")
  if (principal.kind === "project" && principal.environmentId !== env.id) fail(ctx.notAuthorized)
  return env
}

const serviceJson = (ctx: FakeContext, s: FakeService) => ({
  id: s.id,
  name: s.name,
  projectId: s.projectId,
  deletedAt: s.deletedAt,
  project: () => projectJson(ctx, ctx.state.projects.get(s.projectId)!),
  serviceInstances: (args: Args) =>
    page(
      [...s.instances.entries()].map(([environmentId, inst]) => ({
        id: `si-${s.id}-${environmentId}`,
        serviceId: s.id,
        serviceName: s.name,
        environmentId,
        domains: {
          serviceDomains: inst.domain
            ? [{ id: `dom-${inst.domain}`, domain: inst.domain, environmentId, serviceId: s.id }]
            : [],
          customDomains: [],
        },
        latestDeployment: inst.deployStatus
          ? {
              id: `d-${s.id}-${environmentId}`,
              status: inst.deployStatus,
              environmentId,
              serviceId: s.id,
              projectId: s.projectId,
            }
          : null,
      })),
      args,
      ctx.pageSize,
    ),
  deployments: (args: Args) =>
    page(
      [...s.instances.entries()].flatMap(([environmentId, inst]) =>
        inst.deployStatus
          ? [
              {
                id: `d-${s.id}-${environmentId}`,
                status: inst.deployStatus,
                environmentId,
                serviceId: s.id,
                projectId: s.projectId,
              },
            ]
          : [],
      ),
      args,
      ctx.pageSize,
    ),
})

const projectJson = (ctx: FakeContext, p: FakeProject) => ({
  id: p.id,
  name: p.name,
  deletedAt: p.deletedAt,
  workspaceId: p.workspaceId,
  environments: (args: Args) =>
    page(
      p.environments.map((e) => ({ ...e, projectId: p.id })),
      args,
      ctx.pageSize,
    ),
  services: (args: Args) =>
    page(
      [...ctx.state.services.values()].filter((s) => s.projectId === p.id).map((s) => serviceJson(ctx, s)),
      args,
      ctx.pageSize,
    ),
  volumes: (args: Args) =>
    page(
      [...ctx.state.volumes.values()]
        .filter((v) => v.projectId === p.id)
        .map((v) => ({
          id: v.id,
          name: v.id,
          projectId: p.id,
          volumeInstances: (a: Args) =>
            page(
              [
                {
                  id: `vi-${v.id}`,
                  volumeId: v.id,
                  serviceId: v.serviceId,
                  environmentId: v.environmentId,
                  mountPath: v.mountPath,
                },
              ],
              a,
              ctx.pageSize,
            ),
        })),
      args,
      ctx.pageSize,
    ),
})

export const rootValue = {
  // ---- queries
  project: (args: Args, ctx: FakeContext) => {
    ctx.ops.push("project")
    return projectJson(ctx, projectFor(ctx, args.id))
  },
  service: (args: Args, ctx: FakeContext) => {
    ctx.ops.push("service")
    return serviceJson(ctx, serviceFor(ctx, args.id))
  },
  workspace: (args: Args, ctx: FakeContext) => {
    ctx.ops.push("workspace")
    const principal = principalOf(ctx)
    if (principal.kind !== "workspace" || principal.workspaceId !== args.workspaceId) fail(ctx.notAuthorized)
    return {
      id: args.workspaceId,
      name: args.workspaceId,
      projects: (a: Args) =>
        page(
          [...ctx.state.projects.values()]
            .filter((p) => p.workspaceId === args.workspaceId)
            .map((p) => projectJson(ctx, p)),
          a,
          ctx.pageSize,
        ),
    }
  },
  projectToken: (_: Args, ctx: FakeContext) => {
    ctx.ops.push("projectToken")
    const principal = principalOf(ctx)
    if (principal.kind !== "project") fail("Project token not found")
    return principal.kind === "project"
      ? { id: "pt-1", name: "pool", projectId: principal.projectId, environmentId: principal.environmentId }
      : null
  },
  // ---- mutations
  projectCreate: (args: Args, ctx: FakeContext) => {
    ctx.ops.push("projectCreate")
    const principal = principalOf(ctx)
    const input = args.input
    if (principal.kind !== "workspace" || (input.workspaceId != null && input.workspaceId !== principal.workspaceId))
      fail(ctx.notAuthorized)
    ctx.throttle("projectCreate", principal)
    return projectJson(
      ctx,
      ctx.state.addProject(input.name ?? "unnamed", principal.kind === "workspace" ? principal.workspaceId : "", [
        input.defaultEnvironmentName ?? "production",
      ]),
    )
  },
  projectDelete: (args: Args, ctx: FakeContext) => {
    ctx.ops.push("projectDelete")
    const p = projectFor(ctx, args.id)
    if (principalOf(ctx).kind !== "workspace") fail(ctx.notAuthorized)
    ctx.state.deleteProject(p.id)
    return true
  },
  serviceCreate: (args: Args, ctx: FakeContext) => {
    ctx.ops.push("serviceCreate")
    const input = args.input
    const p = projectFor(ctx, input.projectId)
    const env = environmentFor(ctx, p, input.environmentId)
    if (input.source != null)
      fail("test: create the service without a source (a source deploys at once, before its volume and variables)")
    return serviceJson(
      ctx,
      ctx.state.addService(p.id, input.name ?? "service", env ? [env.id] : p.environments.map((e) => e.id)),
    )
  },
  serviceDelete: (args: Args, ctx: FakeContext) => {
    ctx.ops.push("serviceDelete")
    const s = serviceFor(ctx, args.id)
    ctx.state.services.delete(s.id)
    return true
  },
  volumeCreate: (args: Args, ctx: FakeContext) => {
    ctx.ops.push("volumeCreate")
    const input = args.input
    const p = projectFor(ctx, input.projectId)
    const env = environmentFor(ctx, p, input.environmentId) ?? p.environments[0]!
    const s = input.serviceId == null ? null : serviceFor(ctx, input.serviceId)
    if (s && s.projectId !== p.id) fail("Service not found")
    ctx.throttle("volumeCreate", principalOf(ctx))
    const v = ctx.state.addVolume({
      projectId: p.id,
      serviceId: s?.id ?? "",
      environmentId: env.id,
      mountPath: input.mountPath,
    })
    return { id: v.id, name: v.id, projectId: p.id }
  },
  volumeDelete: (args: Args, ctx: FakeContext) => {
    ctx.ops.push("volumeDelete")
    const v = ctx.state.volumes.get(args.volumeId) ?? fail("Volume not found")
    projectFor(ctx, v.projectId)
    ctx.state.volumes.delete(v.id)
    return true
  },
  serviceDomainCreate: (args: Args, ctx: FakeContext) => {
    ctx.ops.push("serviceDomainCreate")
    const s = serviceFor(ctx, args.input.serviceId)
    const p = ctx.state.projects.get(s.projectId)!
    const env = environmentFor(ctx, p, args.input.environmentId)!
    const inst = s.instances.get(env.id) ?? fail("Service instance not found")
    inst.domain = `${s.id}-${env.name}.up.railway.app`
    return { id: `dom-${inst.domain}`, domain: inst.domain, environmentId: env.id, serviceId: s.id }
  },
  environmentPatchCommit: (args: Args, ctx: FakeContext) => {
    ctx.ops.push("environmentPatchCommit")
    const principal = principalOf(ctx)
    const p =
      [...ctx.state.projects.values()].find((x) => x.environments.some((e) => e.id === args.environmentId)) ??
      fail("Environment not found")
    if (!canSee(principal, p)) fail(ctx.notAuthorized)
    environmentFor(ctx, p, args.environmentId)
    const decoded = decodePatch(args.patch)
    if (!decoded.ok) fail(`Problem processing request (environment patch: ${decoded.reason})`)
    for (const [serviceId, config] of Object.entries(decoded.ok ? decoded.value.services : {})) {
      const s = ctx.state.services.get(serviceId)
      const inst = s && s.projectId === p.id ? s.instances.get(args.environmentId) : undefined
      if (!inst) fail("Service not found")
      inst!.patch = {
        image: config.source?.image,
        startCommand: config.deploy?.startCommand,
        limits: config.deploy?.limitOverride?.containers,
        variables: config.variables,
      }
      inst!.deployStatus = "BUILDING"
    }
    return `commit-${ctx.state.id("c")}`
  },
}
