import { Context, Effect, Layer, Redacted } from "effect"
import { agentMailApi, apiKey as agentMailKey } from "../agentmail/fake.ts"
import { agentMailLive } from "../agentmail/AgentMail.ts"
import { bankrLive } from "../bankr/Bankr.ts"
import { bankrPartnerApi, partnerKey as bankrPartnerKey } from "../bankr/fake.ts"
import { withAgentMailMessages } from "../agentmail/fakeMessages.ts"
import { fakeApi, type FakeApi, type Handler } from "../http/testing.ts"
import { managementKey, openRouterApi } from "../openrouter/fake.ts"
import { keyName, openRouterLive } from "../openrouter/OpenRouter.ts"
import { apiKey as telnyxKey, profile, telnyxApi } from "../telnyx/fake.ts"
import { withTelnyxMessaging } from "../telnyx/fakeMessaging.ts"
import { telnyxLive } from "../telnyx/Telnyx.ts"
import { bankrWalletsLayer } from "../wallet/AgentWallets.ts"
import { AgentResourcesLive } from "./AgentResourcesLive.ts"

// Live AgentResources over loopback stand-ins of Telnyx, OpenRouter, AgentMail and Bankr's Partner API (wallets),
// for tests: everything real except the provider's far end. `ProviderFakes` exposes the servers and their state so a
// test can inject failures (`fail`) and count what was created and deleted.

export interface ProviderFake<S> {
  readonly api: FakeApi
  readonly state: S
  /** Replaces the answers with `handler` until `restore()`. */
  readonly fail: (handler: Handler) => void
  readonly restore: () => void
}

/** The Telnyx numbers fake plus its messaging (POST /messages). */
const telnyxWithMessaging = () => {
  const numbers = telnyxApi()
  const messaging = withTelnyxMessaging(() => numbers.ordered, numbers.handle)
  return { ...numbers, sent: messaging.sent, handle: messaging.handle }
}

/** The AgentMail inboxes fake plus its messages (send, list, batch get). */
const agentMailWithMessages = () => {
  const inboxes = agentMailApi()
  const mail = withAgentMailMessages(inboxes.inboxes, inboxes.handle)
  return { ...inboxes, messages: mail.messages, deliver: mail.deliver, handle: mail.handle }
}

export class ProviderFakes extends Context.Service<
  ProviderFakes,
  {
    readonly telnyx: ProviderFake<ReturnType<typeof telnyxWithMessaging>>
    readonly openrouter: ProviderFake<ReturnType<typeof openRouterApi>>
    readonly agentmail: ProviderFake<ReturnType<typeof agentMailWithMessages>>
    readonly bankr: ProviderFake<ReturnType<typeof bankrPartnerApi>>
  }
>()("pool-core/providers/resources/testing/ProviderFakes") {}

const start = <S extends { handle: Handler }>(state: S) =>
  Effect.map(
    fakeApi(state.handle),
    (api): ProviderFake<S> => ({
      api,
      state,
      fail: (h) => api.setHandler(h),
      restore: () => api.setHandler(state.handle),
    }),
  )

export const providerFakesLayer = Layer.effect(
  ProviderFakes,
  Effect.gen(function* () {
    return ProviderFakes.of({
      telnyx: yield* start(telnyxWithMessaging()),
      openrouter: yield* start(openRouterApi()),
      agentmail: yield* start(agentMailWithMessages()),
      bankr: yield* start(bankrPartnerApi()),
    })
  }),
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
          telnyxLive({
            apiKey: Redacted.make(telnyxKey),
            environment: testEnvironment,
            baseUrl: fakes.telnyx.api.url,
            messagingProfileId: profile,
            http,
          }),
          openRouterLive({
            managementKey: Redacted.make(managementKey),
            environment: testEnvironment,
            baseUrl: fakes.openrouter.api.url,
            keyLimit: 20,
            limitReset: "monthly",
            http,
          }),
          agentMailLive({
            apiKey: Redacted.make(agentMailKey),
            environment: testEnvironment,
            baseUrl: fakes.agentmail.api.url,
            domain: null,
            http,
          }),
          bankrWalletsLayer.pipe(
            Layer.provideMerge(
              bankrLive({
                partnerKey: Redacted.make(bankrPartnerKey),
                baseUrl: fakes.bankr.api.url,
                environment: testEnvironment,
                http,
              }),
            ),
          ),
        ),
      ),
    )
  }),
)
