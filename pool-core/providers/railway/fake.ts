import type { RecordedRequest, Reply } from "../http/testing.ts"

// Loopback stand-in for Railway's GraphQL API (tests only): recognises the operations the pool sends, checks the
// bearer token and the variables, and keeps projects/services in memory. Unknown ids answer like Railway: an
// `errors` entry and null data for that field.

export const railwayToken = "rw_team_token_secret_42"

export interface FakeService {
  readonly id: string
  readonly projectId: string
  readonly volumes: Array<string>
  domain: string | null
  patch: { image?: string; startCommand?: string; variables?: Record<string, { value: string }> } | null
  deployStatus: string | null
}

export const railwayApi = () => {
  let seq = 0
  const projects = new Map<string, { id: string; name: string; envId: string }>()
  const services = new Map<string, FakeService>()
  const ops: Array<string> = []
  const id = (p: string) => `${p}-${++seq}`
  const err = (message: string): Reply => ({ json: { data: null, errors: [{ message }] } })
  const svcJson = (s: FakeService) => ({
    id: s.id,
    serviceInstances: { edges: [{ node: { domains: { serviceDomains: s.domain ? [{ domain: s.domain }] : [] } } }] },
    deployments: { edges: s.deployStatus ? [{ node: { id: `d-${s.id}`, status: s.deployStatus } }] : [] },
  })
  const handle = (r: RecordedRequest): Reply => {
    if (r.method !== "POST" || r.path !== "/graphql/v2") return { status: 404, json: { message: "not found" } }
    if (r.headers.authorization !== `Bearer ${railwayToken}`) return err("Not Authorized")
    const { query, variables: v } = r.body as { query: string; variables: Record<string, any> }
    const op = /(projectCreate|serviceCreate|volumeCreate|serviceDomainCreate|environmentPatchCommit|projectDelete|serviceDelete|service\(id|services\(first)/.exec(query)?.[1] ?? "?"
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
        const s: FakeService = { id: id("svc"), projectId: p.id, volumes: [], domain: null, patch: null, deployStatus: null }
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
      case "service(id":
      case "services(first": {
        // lookup by id, or the batched status query with aliases a0, a1, …
        if (/projectId/.test(query)) {
          const s = services.get(v.id)
          return s ? { json: { data: { service: { id: s.id, projectId: s.projectId } } } } : err("Service not found")
        }
        const data: Record<string, unknown> = {}
        const errors: Array<{ message: string }> = []
        for (const m of query.matchAll(/(a\d+): (project|service)\(id: \$(v\d+)\)/g)) {
          const [, alias, kind, name] = m
          const key = v[name]
          if (kind === "project") {
            const p = projects.get(key)
            if (!p) (data[alias] = null), errors.push({ message: "Project not found" })
            else data[alias] = { services: { edges: [...services.values()].filter((s) => s.projectId === p.id).map((s) => ({ node: svcJson(s) })) } }
          } else {
            const s = services.get(key)
            if (!s) (data[alias] = null), errors.push({ message: "Service not found" })
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
