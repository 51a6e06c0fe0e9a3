import { Effect, Schema } from "effect"
import type { ProviderError } from "../../domain/errors.ts"
import { isNotFound, type RailwayApi } from "./graphql.ts"

// Lookups that list a connection: always paged (`first`/`after` until hasNextPage is false), because Railway caps a
// page and a name or volume on page 2 must not be missed (a missed project is created twice; a missed volume leaks).

const PageInfo = Schema.Struct({ hasNextPage: Schema.Boolean, endCursor: Schema.NullOr(Schema.String) })
const connection = <S extends Schema.Top>(node: S) =>
  Schema.Struct({ edges: Schema.Array(Schema.Struct({ node })), pageInfo: PageInfo })

export const ProjectNode = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  environments: Schema.Struct({
    edges: Schema.Array(Schema.Struct({ node: Schema.Struct({ id: Schema.String, name: Schema.String }) })),
  }),
})
const Named = Schema.Struct({ id: Schema.String, name: Schema.String })
const VolumeNode = Schema.Struct({
  id: Schema.String,
  volumeInstances: Schema.Struct({
    edges: Schema.Array(
      Schema.Struct({ node: Schema.Struct({ serviceId: Schema.NullOr(Schema.String), environmentId: Schema.String }) }),
    ),
  }),
})

const after = (cursor: string | null) => (cursor === null ? "" : `, after: ${JSON.stringify(cursor)}`)

/** Every node of a paged connection. `pick` finds the connection in one answer. */
const allPages = <A>(
  fetchPage: (
    cursor: string | null,
  ) => Effect.Effect<
    { readonly edges: ReadonlyArray<{ readonly node: A }>; readonly pageInfo: typeof PageInfo.Type } | null,
    ProviderError
  >,
) =>
  Effect.gen(function* () {
    const nodes: Array<A> = []
    let cursor: string | null = null
    for (let guard = 0; guard < 1_000; guard++) {
      const page: {
        readonly edges: ReadonlyArray<{ readonly node: A }>
        readonly pageInfo: typeof PageInfo.Type
      } | null = yield* fetchPage(cursor)
      if (page === null) break
      nodes.push(...page.edges.map((e) => e.node))
      if (!page.pageInfo.hasNextPage || page.pageInfo.endCursor === null) break
      cursor = page.pageInfo.endCursor
    }
    return nodes
  })

export const makeLookups = (api: RailwayApi, pageSize: number) => {
  const projectsNamed = (workspaceId: string, name: string) =>
    allPages((cursor) =>
      api
        .query(
          "find project",
          `query($workspaceId: String!) { workspace(workspaceId: $workspaceId) { projects(first: ${pageSize}${after(cursor)}) { edges { node { id name environments { edges { node { id name } } } } } pageInfo { hasNextPage endCursor } } } }`,
          { workspaceId },
          Schema.Struct({ workspace: Schema.Struct({ projects: connection(ProjectNode) }) }),
        )
        .pipe(Effect.map((r) => r.workspace.projects)),
    ).pipe(Effect.map((all) => all.filter((p) => p.name === name)))

  const servicesNamed = (projectId: string, name: string) =>
    allPages((cursor) =>
      api
        .query(
          "find service",
          `query($id: String!) { project(id: $id) { services(first: ${pageSize}${after(cursor)}) { edges { node { id name } } pageInfo { hasNextPage endCursor } } } }`,
          { id: projectId },
          Schema.Struct({ project: Schema.Struct({ services: connection(Named) }) }),
        )
        .pipe(Effect.map((r) => r.project.services)),
    ).pipe(Effect.map((all) => all.filter((s) => s.name === name)))

  /** Volume ids of a project mounted by this service (a deleted project has none left). */
  const volumesOf = (projectId: string, serviceId: string) =>
    allPages((cursor) =>
      api
        .query(
          "find volumes",
          `query($id: String!) { project(id: $id) { volumes(first: ${pageSize}${after(cursor)}) { edges { node { id volumeInstances { edges { node { serviceId environmentId } } } } } pageInfo { hasNextPage endCursor } } } }`,
          { id: projectId },
          Schema.Struct({ project: Schema.Struct({ volumes: connection(VolumeNode) }) }),
        )
        .pipe(
          Effect.map((r) => r.project.volumes),
          Effect.catchIf(isNotFound, () => Effect.succeed(null)),
        ),
    ).pipe(
      Effect.map((all) =>
        all.filter((v) => v.volumeInstances.edges.some((e) => e.node.serviceId === serviceId)).map((v) => v.id),
      ),
    )

  return { projectsNamed, servicesNamed, volumesOf }
}
