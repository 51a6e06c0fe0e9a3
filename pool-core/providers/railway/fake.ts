import type { RecordedRequest, Reply } from "../http/testing.ts"

// Loopback stand-in for Railway's GraphQL API (tests only): recognises the operations the pool sends, checks the
// bearer token and the variables, and keeps projects/services in memory. Unknown ids answer like Railway: an
// `errors` entry (with the alias in its `path`) and null data for that field. Project services are paged
// (`pageSize`, cursor = index), like Railway's connections.

export const railwayToken = "rw_team_token_secret_42"

export interface FakeService {
  readonly id: string
  readonly name: string
  readonly projectId: string
  readonly volumes: Array<string>
  domain: string | null
  patch: { image?: string; startCommand?: string; variables?: Record<string, { value: string }> } | null
  deployStatus: string | null
}

export const railwayApi = (options: { readonly pageSize?: number } = {}) => {
  let seq = 0
  const projects = new Map<string, { id: string; name: string; envId: string }>()
  const services = new Map<string, FakeService>()
  const ops: Array<string> = []
  const id = (p: string) => `${p}-${++seq}`
  const err = (message: string): Reply => ({ json: { data: null, errors: [{ message }] } })
  const maxPage = options.pageSize ?? 500
  /** One page of a project's services, as Railway's connection: `first` capped by the fake's page size. */
  const servicesOf = (projectId: string, first: number, after: string | null) => {
    const all = [...services.values()].filter((s) => s.projectId === projectId)
    const start = after === null ? 0 : Number(after)
    const size = Math.min(first, maxPage)
    const page = all.slice(start, start + size)
    return { edges: page.map((s) => ({ node: svcJson(s) })), pageInfo: { hasNextPage: start + size < all.length, endCursor: page.length ? String(start + page.length) : null } }
  }
  const svcJson = (s: FakeService) => ({
    id: s.id,
    serviceInstances: { edges: [{ node: { domains: { serviceDomains: s.domain ? [{ domain: s.domain }] : [] } } }] },
    deployments: { edges: s.deployStatus ? [{ node: { id: `d-${s.id}`, status: s.deployStatus } }] : [] },
  })
  const handle = (r: RecordedRequest): Reply => {
    if (r.method !== "POST" || r.path !== "/graphql/v2") return { status: 404, json: { message: "not found" } }
    if (r.headers.authorization !== `Bearer ${railwayToken}`) return err("Not Authorized")
    const { query, variables: v } = r.body as { query: string; variables: Record<string, any> }
    const op = /(projectCreate|serviceCreate|volumeCreate|serviceDomainCreate|environmentPatchCommit|projectDelete|serviceDelete|workspace\(workspaceId|services \{|service\(id|services\(first)/.exec(query)?.[1] ?? "?"
    ops.push(op)
    switch (op) {
      case "projectCreate": {
        if (!v.input?.name || !v.input?.workspaceId) return err("Problem processing request")
        const p = { id: id("proj"), name: v.input.name, envId: id("env") }
        projects.set(p.id, p)
        return { json: { data: { projectCreate: { id: p.id, environments: { edges: [{ node: { id: p.envId, name: "production" } }] } } } } }
      }
      case "serviceCreate": {
        const p = projects.get(v.input?.projectId)
        if (!p || p.envId !== v.input.environmentId) return err("Project not found")
        if (v.input.source) return err("test: the service must be created without a source (it would deploy at once)")
        const s: FakeService = { id: id("svc"), name: v.input.name, projectId: p.id, volumes: [], domain: null, patch: null, deployStatus: null }
        services.set(s.id, s)
        return { json: { data: { serviceCreate: { id: s.id } } } }
      }
      case "volumeCreate": {
        const s = services.get(v.input?.serviceId)
        if (!s || v.input.mountPath !== "/data") return err("Service not found")
        s.volumes.push(id("vol"))
        return { json: { data: { volumeCreate: { id: s.volumes.at(-1) } } } }
      }
      case "serviceDomainCreate": {
        const s = services.get(v.input?.serviceId)
        if (!s) return err("Service not found")
        s.domain = `${s.id}.up.railway.app`
        return { json: { data: { serviceDomainCreate: { domain: s.domain } } } }
      }
      case "environmentPatchCommit": {
        const [sid, patch] = Object.entries(v.patch?.services ?? {})[0] as [string, any]
        const s = services.get(sid)
        if (!s) return err("Service not found")
        s.patch = { image: patch.source?.image, startCommand: patch.deploy?.startCommand, variables: patch.variables }
        s.deployStatus = "BUILDING"
        return { json: { data: { environmentPatchCommit: "commit-1" } } }
      }
      case "projectDelete":
        if (!projects.delete(v.id)) return err("Project not found")
        for (const s of [...services.values()]) if (s.projectId === v.id) services.delete(s.id)
        return { json: { data: { projectDelete: true } } }
      case "serviceDelete":
        return services.delete(v.id) ? { json: { data: { serviceDelete: true } } } : err("Service not found")
      case "workspace(workspaceId": {
        // projects of the workspace, by name lookups after a lost create answer
        const list = [...projects.values()].map((p) => ({ node: { id: p.id, name: p.name, environments: { edges: [{ node: { id: p.envId, name: "production" } }] } } }))
        return { json: { data: { workspace: { projects: { edges: list } } } } }
      }
      case "services {": {
        // a project's services by name (after a lost serviceCreate answer)
        const p = projects.get(v.id)
        if (!p) return { json: { data: { project: null }, errors: [{ message: "Project not found", path: ["project"] }] } }
        return { json: { data: { project: { services: { edges: [...services.values()].filter((s) => s.projectId === p.id).map((s) => ({ node: { id: s.id, name: s.name } })) } } } } }
      }
      case "service(id":
      case "services(first": {
        // lookup by id, the batched status query with aliases a0, a1, …, or a further page of one project
        if (/projectId/.test(query)) {
          const s = services.get(v.id)
          return s ? { json: { data: { service: { id: s.id, projectId: s.projectId } } } } : err("Service not found")
        }
        const pageArgs = (text: string) => {
          const m = /services\(first: (\d+)(?:, after: "([^"]*)")?\)/.exec(text)
          return { first: Number(m?.[1] ?? 500), after: m?.[2] ?? null }
        }
        if (!/a\d+: /.test(query)) {
          const p = projects.get(v.id)
          if (!p) return { json: { data: { project: null }, errors: [{ message: "Project not found", path: ["project"] }] } }
          const { first, after } = pageArgs(query)
          return { json: { data: { project: { services: servicesOf(p.id, first, after) } } } }
        }
        const data: Record<string, unknown> = {}
        const errors: Array<{ message: string; path: Array<string> }> = []
        for (const m of query.matchAll(/(a\d+): (project|service)\(id: \$(v\d+)\) \{ (services\([^)]*\))?/g)) {
          const [, alias, kind, name, servicesArgs] = m
          const key = v[name]
          if (kind === "project") {
            const p = projects.get(key)
            const { first, after } = pageArgs(servicesArgs ?? "")
            if (!p) (data[alias] = null), errors.push({ message: "Project not found", path: [alias] })
            else data[alias] = { services: servicesOf(p.id, first, after) }
          } else {
            const s = services.get(key)
            if (!s) (data[alias] = null), errors.push({ message: "Service not found", path: [alias] })
            else data[alias] = svcJson(s)
          }
        }
        return { json: errors.length ? { data, errors } : { data } }
      }
      default:
        return err(`test: unexpected operation in ${query.slice(0, 80)}`)
    }
  }
  const addProject = (name: string) => {
    const p = { id: id("proj"), name, envId: id("env") }
    projects.set(p.id, p)
    return p
  }
  return { projects, services, ops, handle, addProject }
}
