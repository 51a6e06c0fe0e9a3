import { execFileSync } from "node:child_process"
import { ConfigProvider, Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { loadDeploymentInfo } from "../info/deployment.ts"
import { MemoryCloud } from "../../pool/testing.ts"
import { type ApiServer, startApi } from "./server.ts"

// GET /api/pool/info (the deployment: environment, version, commit, model, compute ids) and GET /api/pool/agents
// (every live instance by status, public fields only), as the seed README lists them.

const withEnv = (env: Record<string, string>) =>
  loadDeploymentInfo.pipe(Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(env))), Effect.runPromise)
const head = execFileSync("git", ["rev-parse", "HEAD"], { cwd: import.meta.dirname, encoding: "utf8" }).trim()

describe("deployment info (from config)", () => {
  it("on Railway: the environment, the platform's commit and branch, the OpenRouter model, the Railway ids, and no secret", async () => {
    const secrets = {
      RAILWAY_API_TOKEN: "railway-secret-token-1",
      OPENROUTER_MANAGEMENT_KEY: "sk-or-secret-management",
    }
    const info = await withEnv({
      ...secrets,
      RAILWAY_RUNTIME_IMAGE: "ghcr.io/x/runtime:1",
      POOL_ENVIRONMENT: "staging",
      RAILWAY_GIT_COMMIT_SHA: "a".repeat(40),
      RAILWAY_GIT_BRANCH: "main",
      OPENCLAW_PRIMARY_MODEL: "openai/gpt-5",
      RAILWAY_TEAM_ID: "team-1",
      RAILWAY_PROJECT_ID: "proj-1",
      RAILWAY_ENVIRONMENT_ID: "env-1",
      RAILWAY_SERVICE_ID: "svc-1",
    })
    expect(info).toEqual({
      environment: "staging",
      version: "0.1.0",
      commit: "a".repeat(40),
      branch: "main",
      model: { source: "openrouter", id: "openai/gpt-5" },
      compute: {
        provider: "railway",
        teamId: "team-1",
        projectId: "proj-1",
        environmentId: "env-1",
        serviceId: "svc-1",
      },
    })
    for (const secret of Object.values(secrets)) expect(JSON.stringify(info)).not.toContain(secret)
  })

  it("locally: environment local, the checkout's HEAD, a model server's model id (never its URL or key), compute local", async () => {
    const info = await withEnv({
      MODEL_BASE_URL: "http://10.0.0.7:11434/v1",
      MODEL: "llama3.2",
      MODEL_API_KEY: "model-secret-key",
    })
    expect(info).toEqual({
      environment: "local",
      version: "0.1.0",
      commit: head,
      branch: null,
      model: { source: "model-server", id: "llama3.2" },
      compute: { provider: "local" },
    })
    expect(JSON.stringify(info)).not.toContain("10.0.0.7")
    expect(JSON.stringify(info)).not.toContain("model-secret-key")
    expect((await withEnv({ GIT_COMMIT: "b".repeat(40) })).commit).toBe("b".repeat(40))
    expect((await withEnv({})).model).toEqual({ source: "none", id: null })
    expect((await withEnv({ OPENROUTER_MANAGEMENT_KEY: "k" })).model).toEqual({
      source: "openrouter",
      id: "anthropic/claude-sonnet-4-6",
    })
  })
})

describe("GET /api/pool/info and /api/pool/agents over HTTP", () => {
  let api: ApiServer
  beforeAll(async () => {
    api = await startApi()
  })
  afterAll(async () => {
    await api?.close()
  })

  it("info: the deployment next to the network and the pool's targets", async () => {
    const info = await (await fetch(`${api.base}/api/pool/info`)).json()
    expect(info).toMatchObject({
      environment: expect.any(String),
      version: "0.1.0",
      commit: expect.stringMatching(/^[0-9a-f]{40}$/),
      network: "devnet",
      targets: { minIdle: 0 },
    })
    expect(info.model.source).toMatch(/^(openrouter|model-server|none)$/)
    expect(info.compute.provider).toMatch(/^(railway|local)$/)
  })

  it("agents: claimed, crashed, idle and starting instances, each with id, status, name, template and age only", async () => {
    await api.warm(3)
    const claimed = await (
      await api.post(
        "/api/pool/claim",
        { agentName: "Ada", templateSlug: "trip-planner" },
        { ...api.auth, "idempotency-key": "info-1" },
      )
    ).json()
    await api.runtime.runPromise(Effect.flatMap(MemoryCloud, (c) => Effect.sync(() => c.failProvisions(1, "boom"))))
    const failed = await api.post("/api/pool/claim", { agentName: "Bea" }, { ...api.auth, "idempotency-key": "info-2" })
    expect(failed.status).toBe(502)
    await api.post("/api/pool/replenish", { count: 1 }) // starts one more; without a tick it stays starting

    const res = await fetch(`${api.base}/api/pool/agents`)
    expect(res.status).toBe(200)
    const text = await res.text()
    const body = JSON.parse(text)
    expect(Object.keys(body).sort()).toEqual(["claimed", "crashed", "idle", "starting"])
    for (const [status, list] of Object.entries(body) as Array<[string, Array<Record<string, unknown>>]>) {
      for (const a of list) {
        expect(Object.keys(a).sort()).toEqual(["ageSeconds", "id", "name", "status", "template"])
        expect(a.status).toBe(status)
        expect(a.ageSeconds).toBeGreaterThanOrEqual(0)
      }
    }
    expect(body.claimed).toContainEqual(
      expect.objectContaining({ id: claimed.instanceId, name: "Ada", template: "trip-planner" }),
    )
    expect(body.crashed).toContainEqual(expect.objectContaining({ name: "Bea" }))
    expect(body.idle.length).toBeGreaterThanOrEqual(1)
    expect(body.starting.length).toBeGreaterThanOrEqual(1)
    // Whoever holds an invite can talk to the agent: never on this public list.
    expect(claimed.inviteUrl).toMatch(/^https:\/\//)
    expect(text).not.toContain(claimed.inviteUrl)
    expect(text).not.toContain("boom")
    expect(text).not.toContain("api:")

    // The full rows (invite URL included) stay behind the key.
    expect((await fetch(`${api.base}/api/pool/instances`)).status).toBe(401)
    const { instances } = await (await fetch(`${api.base}/api/pool/instances`, { headers: api.auth })).json()
    expect(instances.find((i: { id: string }) => i.id === claimed.instanceId).inviteUrl).toBe(claimed.inviteUrl)
  })
})
