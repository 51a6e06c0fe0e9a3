import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Redacted } from "effect"
import { fakeApi } from "../http/testing.ts"
import { apiKey, agentMailApi } from "./fake.ts"
import { AgentMail, agentMailLayerFromEnv, agentMailLive } from "./AgentMail.ts"

const live = (url: string) => agentMailLive({ apiKey: Redacted.make(apiKey), baseUrl: url, domain: "mail.example.org", http: { baseDelay: "5 millis", timeout: "300 millis" } })

describe("AgentMail", () => {
  it.live("creates one inbox per instance (idempotent across a retried 503) and deletes it", () =>
    Effect.gen(function* () {
      const fake = agentMailApi()
      let fail = 1
      const api = yield* fakeApi((r) => (r.method === "POST" && fail-- > 0 ? { status: 503, json: { name: "ServiceUnavailable" } } : fake.handle(r)))
      const mail = yield* Effect.provide(Effect.service(AgentMail), live(api.url))
      const inbox = yield* mail.createInbox("i1")
      expect(inbox).toEqual({ inboxId: "convos-agent-i1@mail.example.org", address: "convos-agent-i1@mail.example.org" })
      expect(api.requests).toHaveLength(2)
      for (const r of api.requests) {
        expect(r).toMatchObject({
          method: "POST",
          path: "/v0/inboxes",
          body: { username: "convos-agent-i1", domain: "mail.example.org", display_name: "Convos Agent", client_id: "convos-agent-i1" },
        })
      }
      expect(fake.inboxes.size).toBe(1)
      yield* mail.deleteInbox(inbox.inboxId)
      expect(api.requests[2]).toMatchObject({ method: "DELETE", path: "/v0/inboxes/convos-agent-i1%40mail.example.org" })
      expect(fake.inboxes.size).toBe(0)
      yield* mail.deleteInbox(inbox.inboxId) // 404: already gone
    }).pipe(Effect.scoped)
  )

  it.live("a malformed create answer is a non-retryable error", () =>
    Effect.gen(function* () {
      const api = yield* fakeApi(() => ({ json: { id: "no inbox_id here" } }))
      const mail = yield* Effect.provide(Effect.service(AgentMail), live(api.url))
      const error = yield* Effect.flip(mail.createInbox("i2"))
      expect(error).toMatchObject({ _tag: "ProviderError", provider: "agentmail", retryable: false })
      expect(api.requests).toHaveLength(1)
    }).pipe(Effect.scoped)
  )

  it.effect("without AGENTMAIL_API_KEY it is disabled with a clear message", () =>
    Effect.gen(function* () {
      const mail = yield* AgentMail
      expect(mail.configured).toBe(false)
      const error = yield* Effect.flip(mail.createInbox("x"))
      expect(error.message).toBe("AgentMail is not configured: set AGENTMAIL_API_KEY to use it.")
    }).pipe(Effect.provide(agentMailLayerFromEnv.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ AGENTMAIL_API_KEY: "" }))))))
  )
})
