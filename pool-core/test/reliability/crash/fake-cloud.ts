// A loopback stand-in for a compute provider AND the runtimes it runs, in the test process, so that a manager
// process can be killed and restarted while the "cloud" keeps its state and counts what was created and destroyed.
import { serve } from "@hono/node-server"
import { Hono } from "hono"

export interface FakeInstance {
  readonly ref: string
  readonly instanceId: string
  readonly token: string
  provision: { agentName: string } | null
  conversationId: string | null
  inviteUrl: string | null
}

export interface FakeCloudOptions {
  /** How long a runtime takes to set up an agent once it took the provision. */
  readonly provisionMs: number
  /**
   * How many provision requests the runtimes take. Later ones are held before any runtime sees them (a request still
   * in the network) and never answered, so a manager killed meanwhile leaves claims whose provision never arrived.
   */
  readonly acceptProvisions?: number
  /** Runtimes finish setting up only when finishSetups() is called (instead of after provisionMs). */
  readonly setupsWaitForTest?: boolean
}

export const startFakeCloud = async (options: FakeCloudOptions) => {
  const instances = new Map<string, FakeInstance>()
  const deletes = new Map<string, number>()
  const accept = options.acceptProvisions ?? Number.POSITIVE_INFINITY
  const held: Array<() => void> = []
  let provisionRequests = 0
  const setups: Array<() => void> = []
  let setupsFinished = false
  let base = ""
  const app = new Hono()
  app.post("/instances", async (c) => {
    const { instanceId, token } = (await c.req.json()) as { instanceId: string; token: string }
    const ref = `fake-${instanceId}`
    instances.set(ref, { ref, instanceId, token, provision: null, conversationId: null, inviteUrl: null })
    return c.json({ ref, url: `${base}/rt/${ref}` })
  })
  app.post("/status", async (c) => {
    const { refs } = (await c.req.json()) as { refs: string[] }
    return c.json(Object.fromEntries(refs.map((r) => [r, instances.has(r) ? "running" : "gone"])))
  })
  app.delete("/instances/:ref", (c) => {
    const ref = c.req.param("ref")
    deletes.set(ref, (deletes.get(ref) ?? 0) + 1)
    instances.delete(ref)
    return c.json({ ok: true })
  })
  app.get("/rt/:ref/pool/health", (c) => {
    const i = instances.get(c.req.param("ref"))
    return i
      ? c.json({ ready: true, version: "fake", conversationId: i.conversationId, inviteUrl: i.inviteUrl })
      : c.json({ error: "gone" }, 404)
  })
  app.post("/rt/:ref/pool/provision", async (c) => {
    if (++provisionRequests > accept) {
      await new Promise<void>((r) => held.push(r))
      return c.json({ error: "the cloud is shutting down" }, 503)
    }
    const i = instances.get(c.req.param("ref"))
    if (!i) return c.json({ error: "gone" }, 404)
    if (c.req.header("authorization") !== `Bearer ${i.token}`) return c.json({ error: "bad token" }, 401)
    if (i.provision) return c.json({ error: "already provisioned" }, 409)
    const body = (await c.req.json()) as { agentName: string }
    i.provision = body
    if (options.setupsWaitForTest) await new Promise<void>((r) => (setupsFinished ? r() : setups.push(r)))
    else await new Promise((r) => setTimeout(r, options.provisionMs))
    i.conversationId = `conv-${i.instanceId}`
    i.inviteUrl = `https://dev.convos.org/v2?i=fake-${i.instanceId}`
    return c.json({ conversationId: i.conversationId, inviteUrl: i.inviteUrl, joined: false })
  })
  // PATCH /pool/agent (a rename or new instructions): the two-replica soak test renames agents through the bot.
  app.patch("/rt/:ref/pool/agent", async (c) => {
    const i = instances.get(c.req.param("ref"))
    if (!i) return c.json({ error: "gone" }, 404)
    if (c.req.header("authorization") !== `Bearer ${i.token}`) return c.json({ error: "bad token" }, 401)
    const body = (await c.req.json()) as { agentName?: string }
    if (i.provision && body.agentName) i.provision = { ...i.provision, agentName: body.agentName }
    return c.json({ ok: true })
  })
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) => {
      base = `http://127.0.0.1:${info.port}`
      resolve(s)
    })
  })
  return {
    url: () => base,
    instances,
    deletes,
    /** Provision requests that reached the cloud: taken by a runtime, or held (see acceptProvisions). */
    provisionRequests: () => provisionRequests,
    /** Lets every runtime that took a provision finish it (setupsWaitForTest). */
    finishSetups: () => {
      setupsFinished = true
      for (const finish of setups.splice(0)) finish()
    },
    close: () => {
      for (const release of held.splice(0)) release()
      return new Promise<void>((r) => server.close(() => r()))
    },
  }
}
