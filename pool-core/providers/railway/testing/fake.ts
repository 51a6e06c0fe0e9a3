import { readFileSync } from "node:fs"
import { buildSchema, execute, parse, validate, type DocumentNode, type GraphQLSchema } from "graphql"
import type { RecordedRequest, Reply } from "../../http/testing.ts"
import { NOT_AUTHORIZED, PROJECT_THROTTLED, rootValue, VOLUME_THROTTLED, type FakeContext } from "./resolvers.ts"
import { makeState, type FakeService, type FakeServiceInstance, type Principal } from "./state.ts"

// Loopback stand-in for Railway's public GraphQL API (tests only). Every request is parsed with graphql-js,
// validated against Railway's published schema (../schema/railway.graphql) and executed with standard GraphQL
// semantics, null propagation included. What Railway would refuse is refused (400 for a request that does not
// parse or validate, GraphQL errors for the rest) and recorded in `refusals`, which tests check is empty.
// Tokens: account/team tokens in `Authorization: Bearer`, project tokens in `Project-Access-Token`; anything else
// answers "Not Authorized". Throttling answers Railway's own errors: one projectCreate per token per window (30 s on
// Railway, `projectCreateWindowMs` here), and `throttleNext("volumeCreate" | "projectCreate", n)` for the next n.

export { NOT_AUTHORIZED, PROJECT_THROTTLED, VOLUME_THROTTLED }
export type { FakeService, FakeServiceInstance }

export const railwayToken = "rw_team_token_secret_42"
export const railwayWorkspace = "team-1"

let schema: GraphQLSchema | null = null
/**
 * Railway's schema, built once per test process. `assumeValid` skips checking the schema's own definition only
 * (Railway's deprecates Team.id, which implements the non-deprecated Node.id: graphql-js 17 would refuse to use it);
 * every request is still validated against it.
 */
export const railwaySchema = () =>
  (schema ??= buildSchema(readFileSync(new URL("../schema/railway.graphql", import.meta.url), "utf8"), {
    assumeValid: true,
  }))

export interface RailwayFakeOptions {
  /** Largest page a connection returns (Railway caps `first`; lookups that do not page miss the rest). */
  readonly pageSize?: number
  /** Railway allows one projectCreate per user every 30 s; 0 turns the rule off (tests driving TestClock). */
  readonly projectCreateWindowMs?: number
  /** More account tokens of the same workspace (a token pool; each counts as its own user for throttling). */
  readonly extraTokens?: ReadonlyArray<string>
}

export const railwayApi = (options: RailwayFakeOptions = {}) => {
  // Built (and the executor warmed) before the first request, so a client's request timeout never measures it.
  void execute({ schema: railwaySchema(), document: parse("query { __typename }") })
  const state = makeState()
  const ops: Array<string> = []
  const refusals: Array<string> = []
  const workspaceTokens = new Set([railwayToken, ...(options.extraTokens ?? [])])
  const projectTokens = new Map<string, { projectId: string; environmentId: string }>()
  const lastProjectCreate = new Map<string, number>()
  const throttled = { projectCreate: 0, volumeCreate: 0 }
  const windowMs = options.projectCreateWindowMs ?? 30_000
  const documents = new Map<string, DocumentNode>()
  let notAuthorized = NOT_AUTHORIZED

  const throttle: FakeContext["throttle"] = (op, principal) => {
    if (throttled[op] > 0) {
      throttled[op]--
      throw new Error(op === "projectCreate" ? PROJECT_THROTTLED : VOLUME_THROTTLED)
    }
    if (op === "projectCreate" && principal.kind === "workspace" && windowMs > 0) {
      const now = Date.now()
      const last = lastProjectCreate.get(principal.token)
      if (last !== undefined && now - last < windowMs) throw new Error(PROJECT_THROTTLED)
      lastProjectCreate.set(principal.token, now)
    }
  }

  const principalOf = (r: RecordedRequest): Principal | null => {
    const projectToken = r.headers["project-access-token"]
    if (typeof projectToken === "string") {
      const scope = projectTokens.get(projectToken)
      return scope ? { kind: "project", ...scope } : null
    }
    const bearer = /^Bearer (.+)$/.exec(String(r.headers.authorization ?? ""))?.[1]
    return bearer && workspaceTokens.has(bearer)
      ? { kind: "workspace", token: bearer, workspaceId: railwayWorkspace }
      : null
  }

  const refuse = (message: string): Reply => {
    refusals.push(message)
    return { status: 400, json: { errors: [{ message, extensions: { code: "GRAPHQL_VALIDATION_FAILED" } }] } }
  }

  const handle = async (r: RecordedRequest): Promise<Reply> => {
    if (r.method !== "POST" || r.path !== "/graphql/v2") return { status: 404, json: { message: "Not Found" } }
    if (!String(r.headers["content-type"] ?? "").startsWith("application/json"))
      return refuse("POST body must be JSON (content-type: application/json)")
    const body = r.body as { query?: unknown; variables?: unknown; operationName?: unknown } | undefined
    if (!body || typeof body.query !== "string") return refuse("Must provide query string.")
    let document = documents.get(body.query)
    if (!document) {
      try {
        document = parse(body.query)
      } catch (e) {
        return refuse(String((e as Error).message))
      }
      const errors = validate(railwaySchema(), document)
      if (errors.length > 0) return refuse(errors.map((e) => e.message).join("; "))
      documents.set(body.query, document)
    }
    const contextValue: FakeContext = {
      state,
      principal: principalOf(r),
      pageSize: options.pageSize ?? 100,
      throttle,
      ops,
      notAuthorized,
    }
    const result = await execute({
      schema: railwaySchema(),
      document,
      rootValue,
      contextValue,
      variableValues: (body.variables ?? {}) as Record<string, unknown>,
      operationName: typeof body.operationName === "string" ? body.operationName : undefined,
    })
    // Variables that do not coerce to their declared types: no execution at all, the request is refused.
    if (!("data" in result) || result.data === undefined)
      return refuse((result.errors ?? []).map((e) => e.message).join("; "))
    const errors = (result.errors ?? []).map((e) => ({ message: e.message, path: e.path, locations: e.locations }))
    for (const e of errors)
      if (e.message.startsWith("test:") || e.message.startsWith("Problem processing request")) refusals.push(e.message)
    return { json: errors.length > 0 ? { data: result.data, errors } : { data: result.data } }
  }

  return {
    ...state,
    ops,
    refusals,
    handle,
    /** The next `n` calls of `op` answer Railway's throttling error. */
    throttleNext: (op: "projectCreate" | "volumeCreate", n = 1) => void (throttled[op] += n),
    /** A project token scoped to one environment of a project (sent as Project-Access-Token). */
    addProjectToken: (projectId: string, environmentId: string) => {
      const token = `rw_project_token_${projectTokens.size + 1}_${projectId}`
      projectTokens.set(token, { projectId, environmentId })
      return token
    },
    /** The wording of refusals (Railway's is "Not Authorized"; a client must read any variant as a refusal). */
    setNotAuthorizedMessage: (message: string) => void (notAuthorized = message),
    /** Token revoked or its access removed: every request with it answers "Not Authorized". */
    revokeToken: (token: string) => {
      workspaceTokens.delete(token)
      projectTokens.delete(token)
    },
    /** The instance of a service in the environment this pool uses (its only one unless a test adds more). */
    instanceOf: (serviceId: string, environmentId?: string): FakeServiceInstance => {
      const s = state.services.get(serviceId)!
      return environmentId ? s.instances.get(environmentId)! : [...s.instances.values()].at(-1)!
    },
    /** Adds a project of the workspace (the shared layout's project, or projects to page through). */
    addProject: (name: string, environmentNames?: ReadonlyArray<string>) =>
      state.addProject(name, railwayWorkspace, environmentNames),
  }
}

export type RailwayFake = ReturnType<typeof railwayApi>
