// What the Railway fake keeps in memory: a workspace's projects, their environments, services (one instance per
// environment, each with its own domain and deployment), volumes, and the tokens allowed to act on them.

export interface FakeEnvironment {
  readonly id: string
  readonly name: string
}

export interface FakeProject {
  readonly id: string
  readonly name: string
  readonly workspaceId: string
  readonly environments: Array<FakeEnvironment>
  deletedAt: string | null
}

export interface FakeServiceInstance {
  domain: string | null
  deployStatus: string | null
  patch: {
    image?: string
    startCommand?: string
    limits?: { cpu?: number; memoryBytes?: number }
    variables?: Record<string, { value: string }>
  } | null
}

export interface FakeService {
  readonly id: string
  readonly name: string
  readonly projectId: string
  /** By environment id, in the order Railway lists them. */
  readonly instances: Map<string, FakeServiceInstance>
  deletedAt: string | null
}

export interface FakeVolume {
  readonly id: string
  readonly projectId: string
  readonly serviceId: string
  readonly environmentId: string
  readonly mountPath: string
}

/** Who a request acts as: a workspace (account/team token) or one project environment (project token). */
export type Principal =
  | { readonly kind: "workspace"; readonly token: string; readonly workspaceId: string }
  | { readonly kind: "project"; readonly projectId: string; readonly environmentId: string }

export const makeState = () => {
  let seq = 0
  const id = (prefix: string) => `${prefix}-${++seq}`
  const projects = new Map<string, FakeProject>()
  const services = new Map<string, FakeService>()
  const volumes = new Map<string, FakeVolume>()
  const addProject = (
    name: string,
    workspaceId: string,
    environmentNames: ReadonlyArray<string> = ["production"],
  ): FakeProject => {
    const p: FakeProject = {
      id: id("proj"),
      name,
      workspaceId,
      environments: environmentNames.map((n) => ({ id: id("env"), name: n })),
      deletedAt: null,
    }
    projects.set(p.id, p)
    return p
  }
  const addService = (projectId: string, name: string, environmentIds: ReadonlyArray<string>): FakeService => {
    const s: FakeService = {
      id: id("svc"),
      name,
      projectId,
      instances: new Map(environmentIds.map((e) => [e, { domain: null, deployStatus: null, patch: null }])),
      deletedAt: null,
    }
    services.set(s.id, s)
    return s
  }
  const addVolume = (v: Omit<FakeVolume, "id">): FakeVolume => {
    const volume = { ...v, id: id("vol") }
    volumes.set(volume.id, volume)
    return volume
  }
  const deleteProject = (projectId: string) => {
    projects.delete(projectId)
    for (const s of [...services.values()]) if (s.projectId === projectId) services.delete(s.id)
    for (const v of [...volumes.values()]) if (v.projectId === projectId) volumes.delete(v.id)
  }
  return { id, projects, services, volumes, addProject, addService, addVolume, deleteProject }
}

export type FakeState = ReturnType<typeof makeState>
