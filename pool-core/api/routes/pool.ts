import { randomUUID } from "node:crypto"
import { Cause, Effect, Option, Queue, Schema } from "effect"
import { type Context as HonoContext, Hono } from "hono"
import { streamSSE } from "hono/streaming"
import type { Instance } from "../../domain/instance.ts"
import { agentNameRefusal, Instructions, LIMITS, PoolCount, TemplateSlug } from "@convos-agents/contract"
import { Pool, type Progress } from "../../pool/Pool.ts"
import { topUpAgent } from "../../providers/resources/maintenance.ts"
import { spendingInstances, spendOf } from "../../providers/resources/spend.ts"
import { requireKey } from "../auth.ts"
import { loadDeploymentInfo } from "../info/deployment.ts"
import { agentsByStatus } from "../info/publicAgents.ts"
import { readJson } from "../body.ts"
import { errorResponse, respond, type Run } from "../http.ts"

export const Count = Schema.Struct({ count: PoolCount })
export const OptionalCount = Schema.Struct({ count: Schema.optionalKey(PoolCount) })
/** The name rule's refusal, naming the field it is about (the rule's own words are for chat, where there is no field). */
const nameFieldRefusal = (s: string) => {
  const refusal = s.trim() === "" ? undefined : agentNameRefusal(s)
  return refusal === undefined ? undefined : `agentName: ${refusal}`
}
export const ClaimBody = Schema.Struct({
  // The one name rule (domain/names.ts) at the edge, so the 400 names the field; blank means the default name. The
  // pool applies the rule again (and folds line breaks into one line).
  agentName: Schema.optionalKey(
    Schema.String.check(
      Schema.isMaxLength(256),
      Schema.makeFilter((s: string) => nameFieldRefusal(s)),
    ).annotate({
      description: `The agent's name: one line of 1 to ${LIMITS.agentNameChars} characters (Unicode code points); blank = the default name`,
    }),
  ),
  instructions: Schema.optionalKey(Instructions),
  templateSlug: Schema.optionalKey(TemplateSlug),
  joinUrl: Schema.optionalKey(Schema.String.check(Schema.isMaxLength(LIMITS.urlChars))),
  /** No idle agent: wait up to CLAIM_WAIT for the one the pool starts (a "wait" step with etaMs over SSE). */
  wait: Schema.optionalKey(Schema.Boolean),
})
// The upper bound (OPENROUTER_TOPUP_MAX) and whole cents are checked by AgentResources.topUp, with the same field name.
export const TopUpBody = Schema.Struct({ amountUsd: Schema.Number.check(Schema.isFinite(), Schema.isGreaterThan(0)) })
const IdParam = /^[A-Za-z0-9-]{1,64}$/
const clientLabel = (c: HonoContext) =>
  (c.req.header("x-client-label") ?? "api").replace(/[^\w.-]/g, "").slice(0, 40) || "api"

/** Admin view of an instance (behind the API key): still no token hash or owner identity beyond the API label. */
export const adminInstance = (i: Instance) => ({
  id: i.id,
  status: i.status,
  provider: i.provider,
  agentName: i.agentName,
  templateSlug: i.templateSlug,
  /** The agent's own model (its template's or its owner's /model); null: the configured one. */
  model: i.model ?? null,
  inviteUrl: i.inviteUrl,
  lastError: i.lastError,
  createdAt: i.createdAt,
  claimedAt: i.claimedAt,
})

export interface PoolRoutesOptions {
  readonly run: Run
  readonly apiKey: string | null
  readonly sessionSecret: string
  readonly info: () => Record<string, unknown>
}

const wantsSse = (accept: string | undefined) => (accept ?? "").includes("text/event-stream")

export const poolRoutes = (o: PoolRoutesOptions) => {
  const app = new Hono()
  const auth = requireKey(o.run, o.apiKey, o.sessionSecret)
  const pool = <A, E>(f: (p: Pool["Service"]) => Effect.Effect<A, E>) => Effect.flatMap(Pool, f)

  app.get("/api/pool/counts", (c) =>
    respond(
      c,
      o.run(
        pool((p) => p.counts),
        c.req.raw.signal,
      ),
    ),
  )
  app.get("/api/pool/agents", (c) => respond(c, o.run(agentsByStatus, c.req.raw.signal)))
  // Read once per app (the first request), then served from memory: none of it changes while the process runs.
  const deployment = Effect.runSync(Effect.cached(loadDeploymentInfo))
  app.get("/api/pool/info", (c) =>
    respond(c, o.run(Effect.all({ deployment, targets: pool((p) => Effect.succeed(p.targets)) })), (r) =>
      c.json({ ...o.info(), ...r.deployment, targets: r.targets }),
    ),
  )
  app.get("/api/pool/templates", (c) =>
    respond(c, o.run(pool((p) => p.templates)), (templates) => c.json({ templates })),
  )
  app.get("/api/pool/templates/:slug", (c) => {
    const slug = c.req.param("slug")
    return respond(c, o.run(pool((p) => p.templates)), (all) => {
      const t = all.find((x) => x.slug === slug)
      return t ? c.json(t) : c.json({ error: `No template "${slug}". GET /api/pool/templates lists them.` }, 404)
    })
  })

  /** Runs a long operation either as JSON or as Server-Sent Events (progress steps, then `complete`). */
  const longOperation = <A>(
    c: HonoContext,
    op: (
      onProgress: (p: Progress) => Effect.Effect<void>,
    ) => Effect.Effect<A, { readonly _tag: string; readonly message: string }, any>,
    status = 200,
  ) => {
    if (!wantsSse(c.req.header("accept")))
      return respond(
        c,
        o.run(
          op(() => Effect.void),
          c.req.raw.signal,
        ),
        (a) => c.json(a as object, status as 200),
      )
    return streamSSE(c, async (stream) => {
      const queue = await Effect.runPromise(Queue.unbounded<Progress>())
      const done = o.run(op((p) => Queue.offer(queue, p).pipe(Effect.asVoid)))
      let finished = false
      void done.then(() => (finished = true))
      while (!finished || (await Effect.runPromise(Queue.size(queue))) > 0) {
        const next = await Effect.runPromise(Queue.poll(queue))
        if (next._tag === "Some") await stream.writeSSE({ event: "step", data: JSON.stringify(next.value) })
        else await new Promise((r) => setTimeout(r, 20))
      }
      const exit = await done
      if (exit._tag === "Success")
        await stream.writeSSE({ event: "complete", data: JSON.stringify({ ok: true, result: exit.value }) })
      else {
        const failure = Option.getOrUndefined(Cause.findErrorOption(exit.cause))
        await stream.writeSSE({
          event: "complete",
          data: JSON.stringify({
            ok: false,
            error: failure?.message ?? "Internal error.",
            kind: failure?._tag ?? "Defect",
          }),
        })
      }
    })
  }

  app.post("/api/pool/claim", auth, async (c) => {
    const body = await readJson(c, ClaimBody)
    if (!body.ok) return body.response
    const key = c.req.header("idempotency-key")?.trim() || `api:${randomUUID()}`
    if (key.length > 200)
      return c.json({ error: "Idempotency-Key is too long (at most 200 characters).", field: "Idempotency-Key" }, 400)
    const label = clientLabel(c)
    return longOperation(c, (onProgress) =>
      pool((p) =>
        p.claim({ key, claimedBy: `api:${label}`, ...body.value }, onProgress).pipe(
          Effect.map((r) => ({
            instanceId: r.instance.id,
            agentName: r.instance.agentName,
            inviteUrl: r.inviteUrl,
            conversationId: r.conversationId,
            joined: r.joined,
            replayed: r.replayed,
          })),
        ),
      ),
    )
  })
  app.post("/api/pool/replenish", auth, async (c) => {
    const body = await readJson(c, Count)
    if (!body.ok) return body.response
    return longOperation(c, (onProgress) =>
      pool((p) =>
        p.replenish(body.value.count, onProgress).pipe(Effect.map((made) => ({ created: made.map(adminInstance) }))),
      ),
    )
  })
  app.post("/api/pool/drain", auth, async (c) => {
    const body = await readJson(c, OptionalCount)
    if (!body.ok) return body.response
    return longOperation(c, (onProgress) =>
      pool((p) =>
        p.drain(body.value.count ?? 1, onProgress).pipe(Effect.map((gone) => ({ drained: gone.map(adminInstance) }))),
      ),
    )
  })
  app.post("/api/pool/reconcile", auth, (c) => respond(c, o.run(pool((p) => p.tick))))
  // The rolling upgrade (Pool.upgrade): JSON with the report when it is done, or its progress as SSE steps. A second one
  // while one runs is refused (409).
  app.post("/api/pool/upgrade", auth, (c) => longOperation(c, (onProgress) => pool((p) => p.upgrade(onProgress))))
  app.delete("/api/pool/instances/:id", auth, async (c) => {
    const id = c.req.param("id")
    if (!IdParam.test(id))
      return errorResponse(c, {
        _tag: "InvalidRequest",
        field: "id",
        message: "id must be an instance id (letters, digits, dashes).",
      })
    return respond(c, o.run(pool((p) => p.kill(id))), (i) => c.json({ killed: adminInstance(i) }))
  })
  app.delete("/api/pool/crashed/:id", auth, async (c) => {
    const id = c.req.param("id")
    if (!IdParam.test(id))
      return errorResponse(c, {
        _tag: "InvalidRequest",
        field: "id",
        message: "id must be an instance id (letters, digits, dashes).",
      })
    return respond(c, o.run(pool((p) => p.dismiss(id))), (i) => c.json({ dismissed: adminInstance(i) }))
  })
  app.post("/api/pool/instances/:id/topup", auth, async (c) => {
    const id = c.req.param("id")
    if (!IdParam.test(id))
      return errorResponse(c, {
        _tag: "InvalidRequest",
        field: "id",
        message: "id must be an instance id (letters, digits, dashes).",
      })
    const body = await readJson(c, TopUpBody)
    if (!body.ok) return body.response
    // The same Idempotency-Key tops up once (a client retrying after a timeout, or two replicas behind a balancer).
    const key = c.req.header("idempotency-key")?.trim()
    if (key && key.length > 200)
      return c.json({ error: "Idempotency-Key is too long (at most 200 characters).", field: "Idempotency-Key" }, 400)
    const label = clientLabel(c)
    return respond(
      c,
      o.run(topUpAgent(id, body.value.amountUsd, `api:${label}`, key ? `api:${label}:${key}` : undefined)),
      (r) => c.json(r),
    )
  })
  // Spend only here, behind the key: the public /agents must not show what anyone's agent costs.
  const listWithSpend = pool((p) => p.list({ limit: 1000 })).pipe(
    Effect.flatMap((all) =>
      Effect.map(spendOf(spendingInstances(all)), (spend) =>
        all.map((i) => ({ ...adminInstance(i), spend: spend.get(i.id) ?? null })),
      ),
    ),
  )
  app.get("/api/pool/instances", auth, (c) =>
    respond(c, o.run(listWithSpend, c.req.raw.signal), (instances) => c.json({ instances })),
  )
  return app
}
