import { Effect, Redacted } from "effect"
import { expect } from "vitest"
import { Compute } from "../../compute/Compute.ts"
import { fakeApi } from "../../http/testing.ts"
import { railwayComputeLive } from "../RailwayCompute.ts"
import type { RailwaySettings } from "../settings.ts"
import { railwayApi, railwayToken, type RailwayFake, type RailwayFakeOptions } from "./fake.ts"

// Test wiring: the schema-validating fake on loopback and the Railway compute layer pointed at it.

export const testHttp = { baseDelay: "5 millis", timeout: "5 seconds", retries: 2 } as const

export const spec = {
  instanceId: "i1",
  instanceToken: "tok-secret-i1",
  env: { XMTP_ENV: "dev", OPENROUTER_API_KEY: "sk-or-v1-x" },
}

/** Settings for the fake: a project per agent in the fake's workspace unless `overrides` say otherwise. */
export const testSettings = (url: string, overrides: Partial<RailwaySettings> = {}): RailwaySettings => ({
  token: Redacted.make(railwayToken),
  url: `${url}/graphql/v2`,
  image: `ghcr.io/example/runtime@sha256:${"a".repeat(64)}`, // pinned already: no registry call unless a test wants one
  startCommand: "node dist/server.js",
  layout: { _tag: "perAgent", workspaceId: "team-1" },
  environment: "test",
  limits: null,
  http: testHttp,
  cooldowns: { projectCreate: "1 millis", volumeCreate: "1 millis" },
  ...overrides,
})

/** The fake (schema-validating) and a Compute on it. */
export const railwayOnFake = (
  overrides: Partial<RailwaySettings> | ((fake: RailwayFake) => Partial<RailwaySettings>) = {},
  fakeOptions: RailwayFakeOptions = { projectCreateWindowMs: 0 },
) =>
  Effect.gen(function* () {
    const fake = railwayApi(fakeOptions)
    const api = yield* fakeApi(fake.handle)
    const settings = testSettings(api.url, typeof overrides === "function" ? overrides(fake) : overrides)
    const compute = yield* Effect.provide(Effect.service(Compute), railwayComputeLive(settings))
    return { fake, api, compute, settings }
  })

/** Railway would have refused nothing the client sent (no invalid query, variable or environment patch). */
export const expectNothingRefused = (fake: RailwayFake) => expect(fake.refusals).toEqual([])

export const sent = (requests: ReadonlyArray<{ body: unknown }>, text: string) =>
  requests.filter((r) => (r.body as { query: string }).query.includes(text)).length
