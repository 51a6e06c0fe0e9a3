import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Redacted } from "effect"
import { agentMailApi, apiKey as agentMailKey } from "../agentmail/fake.ts"
import { managementKey, openRouterApi, openRouterReference } from "../openrouter/fake.ts"
import { OpenRouter, openRouterLayerFromEnv, openRouterLive } from "../openrouter/OpenRouter.ts"
import { apiKey as telnyxKey, profile, telnyxApi } from "../telnyx/fake.ts"
import { openApiContract } from "./openapi.ts"
import { fakeApi, type RecordedRequest } from "./testing.ts"

// The provider fakes refuse what the real APIs refuse, per their published references (<provider>/openapi.json):
// unknown paths and methods, unknown or missing fields and parameters, wrong types and values. Each case is sent to the
// fake as a client would send it.

const request = (method: string, path: string, body?: unknown, authorization?: string): RecordedRequest => ({
  method,
  path,
  headers: { authorization },
  body,
})

describe("provider fakes checked against the published API references", () => {
  it("OpenRouter: unknown paths, methods, fields and values are refused like OpenRouter refuses them", () => {
    const fake = openRouterApi()
    const auth = `Bearer ${managementKey}`
    const cases: Array<[RecordedRequest, number, string]> = [
      [request("GET", "/api/v1/key-list", undefined, auth), 404, "not an endpoint"],
      [request("PUT", "/api/v1/keys/abc", { limit: 5 }, auth), 405, "not allowed"],
      [request("POST", "/api/v1/keys", { limit: 5 }, auth), 400, "body.name is required"],
      [
        request("POST", "/api/v1/keys", { name: "k", limit: 5, spend_cap: 5 }, auth),
        400,
        "body.spend_cap is not a field",
      ],
      [request("POST", "/api/v1/keys", { name: "k", limit: "5" }, auth), 400, "body.limit must be number"],
      [
        request("POST", "/api/v1/keys", { name: "k", limit_reset: "yearly" }, auth),
        400,
        "body.limit_reset must be one of",
      ],
      [request("POST", "/api/v1/keys", { name: "" }, auth), 400, "at least 1 characters"],
      [request("GET", "/api/v1/keys?page=2", undefined, auth), 400, "query parameter page is not a parameter"],
      [request("GET", "/api/v1/keys?offset=-1", undefined, auth), 400, "offset must be at least 0"],
      [request("GET", "/api/v1/keys?offset=two", undefined, auth), 400, "offset must be integer"],
      [request("PATCH", "/api/v1/keys/abc", undefined, auth), 400, "a JSON body is required"],
      [request("DELETE", "/api/v1/keys/abc", { really: true }, auth), 400, "takes no body"],
    ]
    for (const [req, status, says] of cases) {
      const reply = fake.handle(req)
      expect(reply.status, `${req.method} ${req.path}`).toBe(status)
      expect(JSON.stringify(reply.json), `${req.method} ${req.path}`).toContain(says)
    }
    expect(fake.violations).toHaveLength(cases.length)
    // what the pool sends passes
    expect(
      fake.handle(
        request("POST", "/api/v1/keys", { name: "convos-test-agent-1", limit: 20, limit_reset: "monthly" }, auth),
      ).status,
    ).toBe(201)
    expect(
      fake.handle(request("GET", "/api/v1/keys?include_disabled=true&offset=0", undefined, auth)).status ?? 200,
    ).toBe(200)
    expect(fake.violations).toHaveLength(cases.length)
  })

  it("AgentMail: unknown paths and fields are refused with a ValidationError / NotFoundError", () => {
    const fake = agentMailApi()
    const auth = `Bearer ${agentMailKey}`
    const cases: Array<[RecordedRequest, number, string]> = [
      [request("POST", "/v0/mailboxes", { username: "a" }, auth), 404, "not an endpoint"],
      [
        request("POST", "/v0/inboxes", { username: "a", displayName: "A" }, auth),
        400,
        "body.displayName is not a field",
      ],
      [request("POST", "/v0/inboxes", { username: 7 }, auth), 400, "body.username must be string"],
      [request("GET", "/v0/inboxes?limit=ten", undefined, auth), 400, "limit must be integer"],
      [
        request("POST", "/v0/inboxes/a%40agentmail.to/api-keys", { name: "k", scope: "inbox" }, auth),
        400,
        "body.scope is not a field",
      ],
      [
        request("POST", "/v0/inboxes/a%40agentmail.to/messages/send", { to: "b@example.com", body: "hi" }, auth),
        400,
        "body.body is not a field",
      ],
    ]
    for (const [req, status, says] of cases) {
      const reply = fake.handle(req)
      expect(reply.status, `${req.method} ${req.path}`).toBe(status)
      expect(JSON.stringify(reply.json), `${req.method} ${req.path}`).toContain(says)
    }
    expect(
      fake.handle(
        request(
          "POST",
          "/v0/inboxes",
          { username: "convos-test-1", display_name: "Convos Agent", client_id: "convos-test-agent-1" },
          auth,
        ),
      ).status ?? 200,
    ).toBe(200)
    expect(fake.violations).toHaveLength(cases.length)
  })

  it("Telnyx: unknown parameters (filter[features][] included), fields and paths are refused with 422 / 404", () => {
    const fake = telnyxApi()
    const auth = `Bearer ${telnyxKey}`
    const cases: Array<[RecordedRequest, number, string]> = [
      // what this client sent before: the reference names the array parameter filter[features]
      [
        request(
          "GET",
          "/available_phone_numbers?filter[country_code]=US&filter[features][]=sms&filter[limit]=20",
          undefined,
          auth,
        ),
        422,
        "query parameter filter[features][] is not a parameter",
      ],
      [request("GET", "/available_phone_numbers?filter[features]=texting", undefined, auth), 422, "must be one of"],
      [
        request("GET", "/available_phone_numbers?filter[limit]=many", undefined, auth),
        422,
        "filter[limit] must be integer",
      ],
      [
        request("POST", "/number_orders", { phone_numbers: [{ number: "+15550001111" }] }, auth),
        422,
        "phone_number is required",
      ],
      [
        request(
          "POST",
          "/number_orders",
          { phone_numbers: [{ phone_number: "+15550001111" }], messaging_profile: profile },
          auth,
        ),
        422,
        "body.messaging_profile is not a field",
      ],
      [
        request("GET", "/number_orders?filter[reference]=x", undefined, auth),
        422,
        "filter[reference] is not a parameter",
      ],
      [
        request("PATCH", "/phone_numbers/%2B15550001111/messaging", { messaging_profile: profile }, auth),
        422,
        "body.messaging_profile is not a field",
      ],
      [
        request("PATCH", "/phone_numbers/%2B15550001111", { messaging_profile_id: profile }, auth),
        404,
        "not an endpoint",
      ],
    ]
    for (const [req, status, says] of cases) {
      const reply = fake.handle(req)
      expect(reply.status, `${req.method} ${req.path}`).toBe(status)
      expect(JSON.stringify(reply.json), `${req.method} ${req.path}`).toContain(says)
    }
    expect(
      fake.handle(
        request(
          "GET",
          "/available_phone_numbers?filter[country_code]=US&filter[features]=sms&filter[limit]=20",
          undefined,
          auth,
        ),
      ).status ?? 200,
    ).toBe(200)
    expect(fake.violations).toHaveLength(cases.length)
  })

  it("a fake answering off the reference is caught (the answer schemas are checked too)", () => {
    const contract = openApiContract(openRouterReference)
    const list = request("GET", "/api/v1/keys")
    expect(contract.checkResponse(list, 200, { data: [{ hash: "h", name: "n" }] })).toContain(
      "answer.data[0].label is required",
    )
    expect(contract.checkResponse(request("POST", "/api/v1/keys"), 200, {})).toContain("answers 201, not 200")
    expect(contract.checkResponse(request("DELETE", "/api/v1/keys/h"), 200, { deleted: true })).toBeNull()
  })

  it.live("a client sending what OpenRouter refuses fails: a key limit reset OpenRouter does not know", () =>
    Effect.gen(function* () {
      const fake = openRouterApi()
      const api = yield* fakeApi(fake.handle)
      const or = yield* Effect.provide(
        Effect.service(OpenRouter),
        openRouterLive({
          managementKey: Redacted.make(managementKey),
          environment: "test",
          baseUrl: api.url,
          keyLimit: 20,
          limitReset: "yearly",
          http: { baseDelay: "5 millis" },
        }),
      )
      const error = yield* Effect.flip(or.createKey("x"))
      expect(error).toMatchObject({ _tag: "ProviderError", status: 400, retryable: false })
      expect(error.message).toContain("body.limit_reset must be one of")
      // and the configuration that would have sent it is refused at start, naming the variable
      const env = ConfigProvider.layer(
        ConfigProvider.fromUnknown({ OPENROUTER_MANAGEMENT_KEY: managementKey, OPENROUTER_KEY_LIMIT_RESET: "yearly" }),
      )
      const exit = yield* Effect.exit(
        Effect.provide(Effect.service(OpenRouter), openRouterLayerFromEnv.pipe(Layer.provide(env))),
      )
      // A tagged InvalidConfig (a failure of the layer), as every configuration error is.
      const refusal =
        exit._tag === "Failure"
          ? (
              exit.cause.reasons.find((r) => r._tag === "Fail") as
                | { error?: { _tag?: string; variable?: string } }
                | undefined
            )?.error
          : undefined
      expect(refusal).toMatchObject({ _tag: "InvalidConfig", variable: "OPENROUTER_KEY_LIMIT_RESET" })
    }).pipe(Effect.scoped),
  )
})
