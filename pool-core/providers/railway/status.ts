import { Effect, Option, Schema } from "effect"
import { ProviderError } from "../../domain/errors.ts"
import type { ComputeState, ComputeStatus } from "../compute/Compute.ts"
import { faultOfMessage, type RailwayApi } from "./graphql.ts"

// Batched status. `project(id)` and `service(id)` are NON-NULL root fields in Railway's schema: one deleted project
// nulls the whole `data` of a batched query (GraphQL null propagation), and the errors say which alias failed. So:
// ask for up to 20 projects per request with aliases; when `data` is null, classify each failed alias by its error
// ("… not found" → its instances are gone; "Not Authorized" → the whole call fails with fault unauthorized, a
// configuration fault the tick must not read as "gone"; anything else → unknown) and ask again for the rest, which
// Railway's null propagation hid (a graphql-js server stops at the first failing non-null root field, so each
// failed alias costs one more request). A deleted project costs one request more, never the whole batch.
// Domains and deployments are read from the service instance of the pool's environment only.

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
    case "NEEDS_APPROVAL": // held until a person approves it in Railway's dashboard: it will not start by itself
      return "failed"
    case "REMOVED":
    case "REMOVING":
      return "gone"
    default:
      return "starting" // QUEUED WAITING BUILDING DEPLOYING INITIALIZING …
  }
}

const detailOf = (deploy: string | undefined) =>
  deploy === "NEEDS_APPROVAL"
    ? "deploy NEEDS_APPROVAL: Railway holds it until someone approves it in the dashboard (or the token's user is a member of the workspace)"
    : deploy
      ? `deploy ${deploy}`
      : undefined

const Instance = Schema.Struct({
  environmentId: Schema.String,
  domains: Schema.Struct({
    serviceDomains: Schema.Array(Schema.Struct({ domain: Schema.String, environmentId: Schema.String })),
  }),
  latestDeployment: Schema.NullOr(Schema.Struct({ id: Schema.String, status: Schema.String })),
})
const ServiceNode = Schema.Struct({
  id: Schema.String,
  deletedAt: Schema.NullOr(Schema.String),
  serviceInstances: Schema.Struct({ edges: Schema.Array(Schema.Struct({ node: Instance })) }),
})
const Environments = Schema.Struct({
  edges: Schema.Array(Schema.Struct({ node: Schema.Struct({ id: Schema.String, name: Schema.String }) })),
})
const PageInfo = Schema.Struct({ hasNextPage: Schema.Boolean, endCursor: Schema.NullOr(Schema.String) })
const ProjectNode = Schema.Struct({
  deletedAt: Schema.NullOr(Schema.String),
  environments: Environments,
  services: Schema.Struct({ edges: Schema.Array(Schema.Struct({ node: ServiceNode })), pageInfo: PageInfo }),
})

export const serviceFields = `id deletedAt serviceInstances { edges { node { environmentId domains { serviceDomains { domain environmentId } } latestDeployment { id status } } } }`

/** The environment agents run in: the configured one, else the one named "production", else the first. */
export const pickEnvironment = (
  envs: ReadonlyArray<{ readonly id: string; readonly name: string }>,
  configured: string | null,
) =>
  (configured ? envs.find((e) => e.id === configured) : undefined) ??
  envs.find((e) => e.name === "production") ??
  envs[0]

const toStatus = (s: typeof ServiceNode.Type, environmentId: string | null): ComputeStatus => {
  if (s.deletedAt !== null) return { providerRef: s.id, state: "gone", url: null, detail: "service deleted" }
  const instances = s.serviceInstances.edges.map((e) => e.node)
  const instance = environmentId ? instances.find((i) => i.environmentId === environmentId) : instances[0]
  const deploy = instance?.latestDeployment?.status
  const domain = instance?.domains.serviceDomains.find((d) => d.environmentId === instance.environmentId)?.domain
  const detail = instance ? detailOf(deploy) : "no instance in the pool's environment yet"
  return {
    providerRef: s.id,
    state: stateOf(deploy),
    url: domain ? `https://${domain}` : null,
    ...(detail ? { detail } : {}),
  }
}

type RawAnswer = Effect.Success<ReturnType<RailwayApi["raw"]>>
type Item = { readonly kind: "p" | "s"; readonly id: string }

export const makeStatusBatch = (
  api: RailwayApi,
  options: { readonly environmentId: () => string | null; readonly pageSize: number },
) => {
  const servicesPage = (after: string | null) =>
    `services(first: ${options.pageSize}${after === null ? "" : `, after: ${JSON.stringify(after)}`}) { edges { node { ${serviceFields} } } pageInfo { hasNextPage endCursor } }`
  const projectFields = (after: string | null) =>
    `deletedAt environments { edges { node { id name } } } ${servicesPage(after)}`
  const shapeError = (detail: string) =>
    new ProviderError({
      provider: "railway",
      operation: "status",
      status: 200,
      retryable: false,
      fault: "rejected",
      message: `railway status answered data of an unexpected shape: ${detail.slice(0, 200)}`,
    })

  return (refs: ReadonlyArray<{ providerRef: string; providerProjectRef: string | null }>) =>
    Effect.gen(function* () {
      const out = new Map<string, ComputeStatus>()
      const gone = new Set<string>() // project ids / loose service ids Railway says do not exist
      const unknown = new Set<string>() // … it could not answer for this time
      const more: Array<{ projectId: string; environmentId: string | null; after: string }> = []
      const projects = [...new Set(refs.flatMap((r) => (r.providerProjectRef ? [r.providerProjectRef] : [])))]
      const loose = refs.filter((r) => !r.providerProjectRef).map((r) => r.providerRef)
      const items: Array<Item> = [
        ...projects.map((id) => ({ kind: "p" as const, id })),
        ...loose.map((id) => ({ kind: "s" as const, id })),
      ]

      const read = (it: Item, value: unknown) =>
        Effect.gen(function* () {
          if (it.kind === "s") {
            const s = Schema.decodeUnknownOption(ServiceNode)(value)
            if (Option.isNone(s)) return yield* shapeError(`service ${it.id}`)
            out.set(s.value.id, toStatus(s.value, options.environmentId()))
            return
          }
          const p = Schema.decodeUnknownOption(ProjectNode)(value)
          if (Option.isNone(p)) return yield* shapeError(`project ${it.id}`)
          if (p.value.deletedAt !== null) return void gone.add(it.id)
          const env = pickEnvironment(
            p.value.environments.edges.map((e) => e.node),
            options.environmentId(),
          )
          for (const e of p.value.services.edges) out.set(e.node.id, toStatus(e.node, env?.id ?? null))
          const page = p.value.services.pageInfo
          if (page.hasNextPage && page.endCursor)
            more.push({ projectId: it.id, environmentId: env?.id ?? null, after: page.endCursor })
        })

      let pending = items
      while (pending.length > 0) {
        const chunk = pending.slice(0, 20)
        const vars = chunk.map((_, j) => `$v${j}: String!`).join(", ")
        const fields = chunk
          .map((it, j) =>
            it.kind === "p"
              ? `a${j}: project(id: $v${j}) { ${projectFields(null)} }`
              : `a${j}: service(id: $v${j}) { ${serviceFields} }`,
          )
          .join(" ")
        const answer = yield* api.raw(
          "status",
          `query(${vars}) { ${fields} }`,
          Object.fromEntries(chunk.map((it, j) => [`v${j}`, it.id])),
        )
        const aliasOf = (e: { path: ReadonlyArray<string | number> | null }) =>
          typeof e.path?.[0] === "string" ? Number(e.path[0].slice(1)) : -1
        const failed = new Map<number, Array<string>>()
        for (const e of answer.errors) {
          const j = aliasOf(e)
          if (j >= 0 && j < chunk.length) failed.set(j, [...(failed.get(j) ?? []), e.message])
        }
        const unplaced = answer.errors
          .filter((e) => !(aliasOf(e) >= 0 && aliasOf(e) < chunk.length))
          .map((e) => e.message)
        const all = answer.errors.map((e) => e.message)
        if (all.some((m) => faultOfMessage(m) === "unauthorized")) return yield* answer.error(all)
        if (unplaced.length > 0 && answer.data === null) return yield* answer.error(unplaced)
        const rest: Array<Item> = []
        for (const [j, it] of chunk.entries()) {
          const messages = failed.get(j)
          const value = answer.data?.[`a${j}`]
          if (messages?.every((m) => faultOfMessage(m) === "not_found") && (value === null || value === undefined))
            gone.add(it.id)
          else if (messages)
            unknown.add(it.id) // its own error (partial data included): not trusted either way
          else if (answer.data === null)
            rest.push(it) // nulled by another alias's error: ask again
          else if (value === null || value === undefined) unknown.add(it.id)
          else yield* read(it, value)
        }
        // Progress is certain: every failed alias left the list; those hidden by null propagation go again.
        pending = [...rest, ...pending.slice(chunk.length)]
      }

      // Projects with more services than a page: one query per further page.
      for (const next of more) {
        let after: string | null = next.after
        while (after !== null) {
          const answer: RawAnswer = yield* api.raw(
            "status",
            `query($id: String!) { project(id: $id) { ${servicesPage(after)} } }`,
            { id: next.projectId },
          )
          const messages = answer.errors.map((e) => e.message)
          if (messages.some((m) => faultOfMessage(m) === "unauthorized")) return yield* answer.error(messages)
          const value = messages.length > 0 ? null : (answer.data?.project as { services?: unknown } | null | undefined)
          const decoded: Option.Option<typeof ProjectNode.fields.services.Type> = value
            ? Schema.decodeUnknownOption(ProjectNode.fields.services)(value.services)
            : Option.none()
          if (Option.isNone(decoded)) {
            unknown.add(next.projectId)
            break
          }
          for (const e of decoded.value.edges) out.set(e.node.id, toStatus(e.node, next.environmentId))
          after = decoded.value.pageInfo.hasNextPage ? decoded.value.pageInfo.endCursor : null
        }
      }

      for (const r of refs) {
        const key = r.providerProjectRef ?? r.providerRef
        if (gone.has(key))
          out.set(r.providerRef, { providerRef: r.providerRef, state: "gone", url: null, detail: "railway: not found" })
        else if (out.has(r.providerRef)) continue
        else if (unknown.has(key))
          out.set(r.providerRef, {
            providerRef: r.providerRef,
            state: "unknown",
            url: null,
            detail: "railway could not report it this time",
          })
        // What Railway lists in full without it (its project answered, the service is not there): gone.
        else
          out.set(r.providerRef, {
            providerRef: r.providerRef,
            state: "gone",
            url: null,
            detail: "railway: not in its project",
          })
      }
      return out as ReadonlyMap<string, ComputeStatus>
    })
}
