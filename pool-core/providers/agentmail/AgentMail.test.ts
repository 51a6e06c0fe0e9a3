import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Redacted } from "effect"
import { fakeApi } from "../http/testing.ts"
import { apiKey, agentMailApi } from "./fake.ts"
import { withAgentMailMessages } from "./fakeMessages.ts"
import { AgentMail, agentMailLayerFromEnv, agentMailLive } from "./AgentMail.ts"

const live = (url: string) =>
  agentMailLive({
    apiKey: Redacted.make(apiKey),
    environment: "staging",
    baseUrl: url,
    domain: "mail.example.org",
    http: { baseDelay: "5 millis", timeout: "300 millis" },
  })

describe("AgentMail", () => {
  it.live("creates one inbox per instance (idempotent across a retried 503) and deletes it", () =>
    Effect.gen(function* () {
      const fake = agentMailApi()
      let fail = 1
      const api = yield* fakeApi((r) =>
        r.method === "POST" && fail-- > 0 ? { status: 503, json: { name: "ServiceUnavailable" } } : fake.handle(r),
      )
      const mail = yield* Effect.provide(Effect.service(AgentMail), live(api.url))
      const inbox = yield* mail.createInbox("i1")
      expect(inbox).toMatchObject({
        inboxId: "convos-staging-i1@mail.example.org",
        address: "convos-staging-i1@mail.example.org",
      })
      expect(api.requests).toHaveLength(2) // 503, create (no key for the agent)
      for (const r of api.requests.slice(0, 2)) {
        expect(r).toMatchObject({
          method: "POST",
          path: "/v0/inboxes",
          body: {
            username: "convos-staging-i1",
            domain: "mail.example.org",
            display_name: "Convos Agent",
            client_id: "convos-staging-agent-i1",
          },
        })
      }
      expect(fake.inboxes.size).toBe(1)
      yield* mail.deleteInbox(inbox.inboxId)
      expect(api.requests[2]).toMatchObject({
        method: "DELETE",
        path: "/v0/inboxes/convos-staging-i1%40mail.example.org",
      })
      expect(fake.inboxes.size).toBe(0)
      yield* mail.deleteInbox(inbox.inboxId) // 404: already gone
    }).pipe(Effect.scoped),
  )

  it.live("sends and lists the inbox's mail with the org key (send, list, batch get); the agent gets no key", () =>
    Effect.gen(function* () {
      const inboxes = agentMailApi()
      const fake = withAgentMailMessages(inboxes.inboxes, inboxes.handle)
      const api = yield* fakeApi(fake.handle)
      const mail = yield* Effect.provide(Effect.service(AgentMail), live(api.url))
      const inbox = yield* mail.createInbox("s1")
      expect(Object.keys(inbox).sort()).toEqual(["address", "inboxId"]) // nothing for an agent's env
      const id = yield* mail.sendMessage(inbox.inboxId, { to: "bob@example.com", subject: "Hi", text: "Hello Bob" })
      expect(api.requests.at(-1)).toMatchObject({
        method: "POST",
        path: "/v0/inboxes/convos-staging-s1%40mail.example.org/messages/send",
        body: { to: "bob@example.com", subject: "Hi", text: "Hello Bob" },
        headers: { authorization: `Bearer ${apiKey}` },
      })
      fake.deliver(inbox.inboxId, { from: "carol@example.com", subject: "Re: Hi", text: "Hello back, the whole text" })
      const listed = yield* mail.listMessages(inbox.inboxId, 5)
      expect(api.requests.slice(-2).map((r) => `${r.method} ${r.path}`)).toEqual([
        "GET /v0/inboxes/convos-staging-s1%40mail.example.org/messages?limit=5",
        "POST /v0/inboxes/convos-staging-s1%40mail.example.org/messages/batch-get",
      ])
      expect(listed[0]).toMatchObject({
        from: "carol@example.com",
        subject: "Re: Hi",
        text: "Hello back, the whole text",
      })
      expect(listed[1]).toMatchObject({ id, subject: "Hi", text: "Hello Bob" })
      expect(yield* mail.listMessages("convos-staging-none@mail.example.org", 5).pipe(Effect.flip)).toMatchObject({
        status: 404,
      })
    }).pipe(Effect.scoped),
  )

  it.live("a 429 on create is retried", () =>
    Effect.gen(function* () {
      const fake = agentMailApi()
      let limited = 2
      const api = yield* fakeApi((r) => {
        if (r.method === "POST" && r.path === "/v0/inboxes" && limited-- > 0)
          return { status: 429, headers: { "retry-after": "0" }, json: { name: "TooManyRequests" } }
        return fake.handle(r)
      })
      const mail = yield* Effect.provide(Effect.service(AgentMail), live(api.url))
      yield* mail.createInbox("r1")
      expect(api.requests.filter((r) => r.path === "/v0/inboxes")).toHaveLength(3)
      expect(fake.inboxes.size).toBe(1)
    }).pipe(Effect.scoped),
  )

  it.live("a create timing out is retried (client_id makes it idempotent): one inbox, not two", () =>
    Effect.gen(function* () {
      const fake = agentMailApi()
      let slow = 1
      const api = yield* fakeApi((r) => {
        const reply = fake.handle(r)
        return r.path === "/v0/inboxes" && slow-- > 0 ? { ...reply, delayMs: 1_000 } : reply
      })
      const mail = yield* Effect.provide(Effect.service(AgentMail), live(api.url))
      const inbox = yield* mail.createInbox("t1")
      expect(api.requests.filter((r) => r.path === "/v0/inboxes")).toHaveLength(2)
      expect([...fake.inboxes.keys()]).toEqual([inbox.inboxId])
    }).pipe(Effect.scoped),
  )

  it.live("a malformed create answer is a non-retryable error", () =>
    Effect.gen(function* () {
      const api = yield* fakeApi(() => ({ json: { id: "no inbox_id here" } }))
      const mail = yield* Effect.provide(Effect.service(AgentMail), live(api.url))
      const error = yield* Effect.flip(mail.createInbox("i2"))
      expect(error).toMatchObject({ _tag: "ProviderError", provider: "agentmail", retryable: false })
      // not retried; the inbox an unreadable answer may stand for is deleted by its known id
      expect(api.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
        "POST /v0/inboxes",
        "DELETE /v0/inboxes/convos-staging-i2%40mail.example.org",
      ])
    }).pipe(Effect.scoped),
  )

  it.live(
    "inbox names carry the environment (POOL_ENVIRONMENT, else with Railway compute the Railway environment, else local) and stay valid addresses",
    () =>
      Effect.gen(function* () {
        const fake = agentMailApi()
        const api = yield* fakeApi(fake.handle)
        const id = "0b8f3c2e-5d1a-4c7e-9f00-1234567890ab"
        for (const [vars, username, clientId] of [
          [{}, `convos-local-${id}`, `convos-local-agent-${id}`],
          [
            { RAILWAY_API_TOKEN: "rw", RAILWAY_ENVIRONMENT_NAME: "production" },
            `convos-production-${id}`,
            `convos-production-agent-${id}`,
          ],
          [{ POOL_ENVIRONMENT: "pr-42" }, `convos-pr-42-${id}`, `convos-pr-42-agent-${id}`],
          // 32 characters of environment: the address's local part keeps to 64 characters, the client_id keeps it all
          [
            { POOL_ENVIRONMENT: "a-very-long-review-environment-1" },
            `convos-a-very-long-review-envir-${id.replace(/-/g, "")}`,
            `convos-a-very-long-review-environment-1-agent-${id}`,
          ],
        ] as const) {
          const env = ConfigProvider.layer(
            ConfigProvider.fromUnknown({ AGENTMAIL_API_KEY: apiKey, AGENTMAIL_BASE_URL: api.url, ...vars }),
          )
          const mail = yield* Effect.provide(Effect.service(AgentMail), agentMailLayerFromEnv.pipe(Layer.provide(env)))
          const inbox = yield* mail.createInbox(id)
          const create = api.requests.filter((r) => r.path === "/v0/inboxes").at(-1)
          expect(create?.body, JSON.stringify(vars)).toMatchObject({ username, client_id: clientId })
          expect(username.length).toBeLessThanOrEqual(64)
          expect(inbox.inboxId).toBe(`${username}@agentmail.to`)
          yield* mail.deleteInbox(inbox.inboxId)
        }
      }).pipe(Effect.scoped),
  )

  it.effect("without AGENTMAIL_API_KEY it is disabled with a clear message", () =>
    Effect.gen(function* () {
      const mail = yield* AgentMail
      expect(mail.configured).toBe(false)
      const error = yield* Effect.flip(mail.createInbox("x"))
      expect(error.message).toBe("AgentMail is not configured: set AGENTMAIL_API_KEY to use it.")
    }).pipe(
      Effect.provide(
        agentMailLayerFromEnv.pipe(
          Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ AGENTMAIL_API_KEY: "" }))),
        ),
      ),
    ),
  )
})
