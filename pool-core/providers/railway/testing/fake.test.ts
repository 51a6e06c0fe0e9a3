import { describe, expect, it } from "vitest"
import { NOT_AUTHORIZED, PROJECT_THROTTLED, railwayApi, railwayToken } from "./fake.ts"

// The fake itself: it refuses what Railway would, so a client mistake fails the client's tests (the checks can fail).

const headers = { authorization: `Bearer ${railwayToken}`, "content-type": "application/json" }
const post = (
  fake: ReturnType<typeof railwayApi>,
  query: string,
  variables: Record<string, unknown> = {},
  h: Record<string, string> = headers,
) =>
  fake.handle({ method: "POST", path: "/graphql/v2", headers: h, body: { query, variables } }) as Promise<{
    status?: number
    json: { data?: any; errors?: Array<{ message: string; path?: Array<string> }> }
  }>

describe("Railway fake", () => {
  it("refuses a field the schema lacks, an unknown input field and a variable of the wrong type (400, recorded)", async () => {
    const fake = railwayApi()
    expect((await post(fake, `query { project(id: "x") { idd } }`)).status).toBe(400)
    expect(
      (
        await post(fake, `mutation($input: ProjectCreateInput!) { projectCreate(input: $input) { id } }`, {
          input: { name: "a", workspace: "team-1" },
        })
      ).status,
    ).toBe(400)
    expect((await post(fake, `query($id: String!) { project(id: $id) { id } }`, { id: 42 })).status).toBe(400)
    expect(fake.refusals).toHaveLength(3)
  })

  it("refuses an environment patch Railway's config model does not have (a misspelt limitOverride)", async () => {
    const fake = railwayApi()
    const p = fake.addProject("pool")
    const s = fake.addService(p.id, "svc", [p.environments[0]!.id])
    const answer = await post(
      fake,
      `mutation($e: String!, $patch: EnvironmentConfig!) { environmentPatchCommit(environmentId: $e, patch: $patch) }`,
      {
        e: p.environments[0]!.id,
        patch: { services: { [s.id]: { deploy: { limitOverrides: { containers: { cpu: 2 } } } } } },
      },
    )
    expect(answer.json.data).toBeNull()
    expect(fake.refusals.join()).toContain("limitOverrides")
  })

  it("null propagation: one missing project nulls the whole data, the error names its alias", async () => {
    const fake = railwayApi()
    const p = fake.addProject("pool")
    const answer = await post(
      fake,
      `query($a: String!, $b: String!) { a0: project(id: $a) { id } a1: project(id: $b) { id } }`,
      { a: p.id, b: "proj-gone" },
    )
    expect(answer.json).toMatchObject({ data: null, errors: [{ message: "Project not found", path: ["a1"] }] })
  })

  it("tokens: a project token is refused as Bearer; a throttled projectCreate answers Railway's words", async () => {
    const fake = railwayApi()
    const p = fake.addProject("pool")
    const token = fake.addProjectToken(p.id, p.environments[0]!.id)
    const asBearer = await post(
      fake,
      `query($id: String!) { project(id: $id) { id } }`,
      { id: p.id },
      { authorization: `Bearer ${token}`, "content-type": "application/json" },
    )
    expect(asBearer.json.errors?.[0]?.message).toBe(NOT_AUTHORIZED)
    const asProjectToken = await post(
      fake,
      `query($id: String!) { project(id: $id) { id } }`,
      { id: p.id },
      { "project-access-token": token, "content-type": "application/json" },
    )
    expect(asProjectToken.json.data).toEqual({ project: { id: p.id } })
    const create = `mutation($input: ProjectCreateInput!) { projectCreate(input: $input) { id } }`
    expect((await post(fake, create, { input: { name: "a" } })).json.data).not.toBeNull()
    expect((await post(fake, create, { input: { name: "b" } })).json.errors?.[0]?.message).toBe(PROJECT_THROTTLED)
  })
})
