import { Context, Effect, Layer, Redacted } from "effect"
import { agentMailApi, apiKey as agentMailKey } from "../agentmail/fake.ts"
import { agentMailLive } from "../agentmail/AgentMail.ts"
import { bankrLive } from "../bankr/Bankr.ts"
import { fakeApi, type FakeApi, type Handler } from "../http/testing.ts"
import { managementKey, openRouterApi } from "../openrouter/fake.ts"
import { keyName, openRouterLive } from "../openrouter/OpenRouter.ts"
import { apiKey as telnyxKey, profile, telnyxApi } from "../telnyx/fake.ts"
import { telnyxLive } from "../telnyx/Telnyx.ts"
import { AgentResourcesLive } from "./AgentResourcesLive.ts"

// Live AgentResources over loopback stand-ins of Telnyx, OpenRouter and AgentMail (plus real Bankr key generation),
// for tests: everything real except the provider's far end. `ProviderFakes` exposes the servers and their state so a
// test can inject failures (`fail`) and count what was created and deleted.

export interface ProviderFake<S> {
  readonly api: FakeApi
  readonly state: S
  /** Replaces the answers with `handler` until `restore()`. */
  readonly fail: (handler: Handler) => void
  readonly restore: () => void
}

export class ProviderFakes extends Context.Service<ProviderFakes, {
  readonly telnyx: ProviderFake<ReturnType<typeof telnyxApi>>
  readonly openrouter: ProviderFake<ReturnType<typeof openRouterApi>>
  readonly agentmail: ProviderFake<ReturnType<typeof agentMailApi>>
}>()("pool-core/providers/resources/testing/ProviderFakes") {}

const start = <S extends { handle: Handler }>(state: S) =>
  Effect.map(fakeApi(state.handle), (api): ProviderFake<S> => ({ api, state, fail: (h) => api.setHandler(h), restore: () => api.setHandler(state.handle) }))

export const providerFakesLayer = Layer.effect(
  ProviderFakes,
  Effect.gen(function* () {
    return ProviderFakes.of({ telnyx: yield* start(telnyxApi()), openrouter: yield* start(openRouterApi()), agentmail: yield* start(agentMailApi()) })
  })
)

const http = { baseDelay: "5 millis", timeout: "500 millis", retries: 2 } as const

/** The POOL_ENVIRONMENT of the provider layers over the fakes: resource names read `convos-test-…`. */
export const testEnvironment = "test"

/** The name of an agent's OpenRouter key made over the fakes. */
export const testKeyName = (instanceId: string) => keyName(testEnvironment, instanceId)

/** AgentResourcesLive (plus the provider services) wired to the fakes; needs SqlClient (TestDatabase) and ProviderFakes. */
export const agentResourcesOverFakes = Layer.unwrap(
  Effect.gen(function* () {
    const fakes = yield* ProviderFakes
    return AgentResourcesLive.pipe(
      Layer.provideMerge(
        Layer.mergeAll(
          telnyxLive({ apiKey: Redacted.make(telnyxKey), environment: testEnvironment, baseUrl: fakes.telnyx.api.url, messagingProfileId: profile, http }),
          openRouterLive({ managementKey: Redacted.make(managementKey), environment: testEnvironment, baseUrl: fakes.openrouter.api.url, keyLimit: 20, limitReset: "monthly", http }),
          agentMailLive({ apiKey: Redacted.make(agentMailKey), environment: testEnvironment, baseUrl: fakes.agentmail.api.url, domain: null, http }),
          bankrLive(Redacted.make("bk_test_key"))
        )
      )
    )
  })
)
