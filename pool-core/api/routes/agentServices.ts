import { Cause, Effect, Exit, Option, Schema } from "effect"
import { type Context as HonoContext, Hono, type MiddlewareHandler } from "hono"
import { instanceToken, PoolConfig } from "../../config.ts"
import { NotConfigured, providerFault } from "../../domain/errors.ts"
import { Pool } from "../../pool/Pool.ts"
import { spendOf, spendText } from "../../providers/resources/spend.ts"
import { AgentServices } from "../../providers/services/AgentServices.ts"
import { MODEL_PROBLEM_KINDS } from "../../pool/models.ts"
import { LIMITS, ModelId } from "@convos-agents/contract"
import { clockNow, safeEqual } from "../auth.ts"
import { readJson, readLimited } from "../body.ts"
import type { Run } from "../http.ts"

// Contract 3 (docs/api.md "Agent services"): what an agent may do with the inbox, number and wallet the pool holds for
// it, mounted at /api/agent-services. Every request carries `Authorization: Bearer <instance token>` and
// `X-Instance-Id`; the token is HMAC(POOL_TOKEN_SECRET, id), compared in constant time. Errors are
// {"error": "<what happened and what to do>"}: 400 bad input, 401 bad token, 403 not this instance's resource,
// 404 no such service for this agent, 429 daily limit (with resetAt and Retry-After), 503 provider not configured or
// unavailable.

const InstanceId = /^[A-Za-z0-9_-]{1,64}$/
const oneLine = (max: number) =>
  Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(max), Schema.isPattern(/^[^\r\n\u0000-\u001f\u007f]*$/))
const Email = Schema.String.check(
  Schema.isMaxLength(320),
  Schema.isPattern(/^[^\s@<>,;"]+@[^\s@<>,;"]+\.[^\s@<>,;"]+$/),
)
const Phone = Schema.String.check(Schema.isPattern(/^\+[1-9]\d{6,14}$/))

// `from` is optional (the agent's own address/number is used); naming another gets 403.
const SendEmail = Schema.Struct({
  to: Email,
  subject: oneLine(998),
  text: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(50_000)),
  from: Schema.optional(Email),
})
const SendSms = Schema.Struct({
  to: Phone,
  text: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(1_600)),
  from: Schema.optional(Phone),
})

// An agent that cannot think tells the pool, which tells its owner (ModelProblem event): the line the person got.
const ModelProblemBody = Schema.Struct({
  kind: Schema.Literals(MODEL_PROBLEM_KINDS),
  model: Schema.NullOr(ModelId),
  message: oneLine(300),
})

type Vars = { Variables: { instanceId: string } }

const fail = (
  c: HonoContext,
  status: 400 | 401 | 403 | 404 | 409 | 429 | 503,
  error: string,
  extra: Record<string, unknown> = {},
): Response => c.json({ error, ...extra }, status)

/** Maps an AgentServices failure to the agent service API's statuses. */
/** The answer to a failed call; `now` (the Clock's time) dates a daily limit's Retry-After. */
const failure = (c: HonoContext, e: unknown, now: number) => {
  const err = e as { _tag?: string; message?: string; resetAt?: string; limit?: number; status?: number | null }
  switch (err?._tag) {
    case "ServiceNotHeld":
      return fail(c, 404, err.message!)
    case "NotYourResource":
      return fail(c, 403, err.message!)
    case "InvalidRequest":
      return fail(c, 409, err.message!)
    case "InstanceNotFound":
      return fail(c, 404, "This instance is not in the pool any more.")
    case "DailyLimitReached": {
      const seconds = Math.max(1, Math.ceil((Date.parse(err.resetAt!) - now) / 1000))
      c.header("Retry-After", String(seconds))
      return fail(c, 429, err.message!, { resetAt: err.resetAt, limit: err.limit })
    }
    case "NotConfigured":
      return fail(c, 503, `${err.message} (ask the pool's operators).`)
    case "ProviderError": {
      const pe = e as Parameters<typeof providerFault>[0]
      if (pe.provider !== "database" && providerFault(pe) === "rejected") {
        return fail(
          c,
          400,
          `The ${pe.provider} service refused this request (${pe.status}); check the recipient and the text, then try again.`,
        )
      }
      return fail(
        c,
        503,
        `The ${pe.provider === "database" ? "pool" : pe.provider} service is unavailable right now; try again in a few minutes.`,
      )
    }
    default:
      return c.json({ error: "Internal error; the operators have the details in the logs." }, 500)
  }
}

export const agentServiceRoutes = (o: { readonly run: Run }) => {
  const app = new Hono<Vars>()
  // The token secret is read once from the runtime's PoolConfig.
  let secret: Promise<{ tokenSecret: PoolConfig["Service"]["tokenSecret"] }> | null = null
  const settings = () =>
    (secret ??= o
      .run(Effect.service(PoolConfig))
      .then((exit) => (Exit.isSuccess(exit) ? exit.value : Promise.reject(new Error("PoolConfig is missing")))))

  const auth: MiddlewareHandler<Vars> = async (c, next) => {
    const id = c.req.header("x-instance-id")?.trim() ?? ""
    const bearer = /^Bearer\s+(\S+)$/i.exec(c.req.header("authorization") ?? "")?.[1]
    if (!InstanceId.test(id) || bearer === undefined) {
      return fail(
        c,
        401,
        "Send Authorization: Bearer <INSTANCE_TOKEN> and X-Instance-Id: <INSTANCE_ID> (both are in the agent's environment).",
      )
    }
    // Always compare (even for an id of the wrong shape above we returned already): constant time in the token.
    if (!safeEqual(bearer, instanceToken(await settings(), id)))
      return fail(
        c,
        401,
        "The instance token does not match X-Instance-Id; use this agent's own INSTANCE_TOKEN and INSTANCE_ID.",
      )
    c.set("instanceId", id)
    return next()
  }

  /** Runs an AgentServices operation; without AgentServices in the runtime every route answers 503. */
  const serve = <A>(
    c: HonoContext<Vars>,
    op: (s: AgentServices["Service"], id: string) => Effect.Effect<A, unknown>,
  ): Promise<Response> =>
    o
      .run(
        Effect.serviceOption(AgentServices).pipe(
          Effect.flatMap(
            Option.match({
              onNone: () =>
                Effect.fail(
                  new NotConfigured({
                    provider: "agent services",
                    variable: "AgentServicesLive",
                    message: "Agent services are not set up in this pool",
                  }),
                ),
              onSome: (s) => op(s, c.get("instanceId")),
            }),
          ),
        ),
        c.req.raw.signal,
      )
      .then(async (exit) => {
        if (Exit.isSuccess(exit)) return c.json(exit.value as object)
        const reason = Cause.findErrorOption(exit.cause)
        if (Option.isNone(reason)) console.error("agent services: unexpected failure", exit.cause)
        return failure(c, Option.getOrUndefined(reason), await clockNow(o.run))
      })

  app.use("*", auth)
  app.get("/me", (c) => serve(c, (s, id) => s.me(id)))
  app.post("/email/send", async (c) => {
    const body = await readJson(c, SendEmail)
    if (!body.ok) return body.response
    return serve(c, (s, id) => s.sendEmail(id, body.value))
  })
  app.get("/email/messages", async (c) => {
    const raw = c.req.query("limit")
    const limit = raw === undefined ? 20 : /^\d{1,2}$/.test(raw) ? Number(raw) : NaN
    if (!(limit >= 1 && limit <= 50))
      return fail(c, 400, "limit must be a whole number from 1 to 50 (default 20).", { field: "limit" })
    return serve(c, (s, id) => s.listEmails(id, limit))
  })
  app.post("/sms/send", async (c) => {
    const body = await readJson(c, SendSms)
    if (!body.ok) return body.response
    return serve(c, (s, id) => s.sendSms(id, body.value))
  })
  app.get("/wallet", (c) => serve(c, (s, id) => s.wallet(id)))
  // The agent's own page (contract/pageLink.ts): its spend against its cap, and "request more", which tells its owner
  // in the manager chat. Neither needs AgentServices (OpenRouter spend; the pool's event to the bot).
  const answer = <A>(c: HonoContext<Vars>, effect: Effect.Effect<A, unknown, any>) =>
    o.run(effect, c.req.raw.signal).then(async (exit) => {
      if (Exit.isSuccess(exit)) return c.json(exit.value as object)
      const reason = Cause.findErrorOption(exit.cause)
      if (Option.isNone(reason)) console.error("agent services: unexpected failure", exit.cause)
      return failure(c, Option.getOrUndefined(reason), await clockNow(o.run))
    })
  const spendOfAgent = (id: string) => Effect.map(spendOf([id]), (m) => m.get(id) ?? null)
  app.get("/spend", (c) =>
    answer(
      c,
      Effect.map(spendOfAgent(c.get("instanceId")), (spend) => ({ spend })),
    ),
  )
  app.post("/request-more", (c) =>
    answer(
      c,
      Effect.gen(function* () {
        const id = c.get("instanceId")
        const spend = yield* spendOfAgent(id)
        const pool = yield* Pool
        yield* pool.requestMore(id, spend === null ? null : spendText(spend))
        return { ok: true }
      }),
    ),
  )
  app.post("/me/model-problem", async (c) => {
    const body = await readJson(c, ModelProblemBody)
    if (!body.ok) return body.response
    const exit = await o.run(
      Effect.flatMap(Effect.service(Pool), (pool) => pool.reportModelProblem(c.get("instanceId"), body.value)),
      c.req.raw.signal,
    )
    if (Exit.isSuccess(exit)) return c.json(exit.value)
    const reason = Option.getOrUndefined(Cause.findErrorOption(exit.cause)) as { _tag?: string } | undefined
    if (reason?._tag === "InstanceNotFound") return fail(c, 404, "No such instance in this pool.")
    return c.json({ error: "Internal error; the operators have the details in the logs." }, 500)
  })
  // The agent's profile picture, encrypted for one conversation (Convos: each group has its own image key); the pool
  // serves it at the answer's `path` (/avatars/<id>) for that conversation's members to download and decrypt.
  app.post("/me/avatar-blobs", async (c) => {
    const body = await readLimited(c.req.raw, LIMITS.avatarBytes + 1024)
    if (!body.ok) return c.json({ error: body.message, field: body.field }, body.status)
    return answer(
      c,
      Effect.flatMap(Effect.service(Pool), (pool) =>
        pool.putAvatarBlob(c.get("instanceId"), c.req.query("conversation") ?? "", body.value),
      ),
    )
  })
  app.notFound((c) =>
    c.json(
      {
        error: `No route ${c.req.method} ${c.req.path}. Agent services: GET /me, POST /me/model-problem, POST /me/avatar-blobs?conversation=<id>, POST /email/send, GET /email/messages, POST /sms/send, GET /wallet, GET /spend, POST /request-more.`,
      },
      404,
    ),
  )
  return app
}
