import { Context, Effect, Layer, Option } from "effect"
import { SqlClient } from "effect/sql"
import { type NotConfigured, ProviderError } from "../../domain/errors.ts"
import { AgentMail, type ReceivedEmail } from "../agentmail/AgentMail.ts"
import { mayHaveHappened } from "../http/ProviderHttp.ts"
import { Telnyx } from "../telnyx/Telnyx.ts"
import { AgentWallets } from "../wallet/AgentWallets.ts"
import { DailyLimitReached, NotYourResource, ServiceNotHeld } from "./errors.ts"
import { dailyLimitsConfig, type DailyLimits, makeUsage, type Service } from "./usage.ts"

// What an agent may do with the resources the pool holds for it (served at /api/agent-services, docs/api.md "Agent services"): its
// own inbox, number and wallet, never anyone else's, within daily limits. The caller (the HTTP route) has already
// checked the instance token; every operation here looks up what THIS instance holds and uses only that. The
// provider is called with the pool's org key, which never leaves the pool.

export interface AgentServicesView {
  readonly email: { readonly address: string } | null
  readonly phone: { readonly number: string } | null
  readonly wallet: { readonly address: string } | null
}

export type AgentServiceError = ServiceNotHeld | NotYourResource | DailyLimitReached | NotConfigured | ProviderError

export class AgentServices extends Context.Service<
  AgentServices,
  {
    readonly me: (instanceId: string) => Effect.Effect<AgentServicesView, ProviderError>
    readonly sendEmail: (
      instanceId: string,
      email: {
        readonly to: string
        readonly subject: string
        readonly text: string
        readonly from?: string | undefined
      },
    ) => Effect.Effect<{ readonly messageId: string }, AgentServiceError>
    readonly listEmails: (
      instanceId: string,
      limit: number,
    ) => Effect.Effect<{ readonly messages: ReadonlyArray<ReceivedEmail> }, AgentServiceError>
    readonly sendSms: (
      instanceId: string,
      sms: { readonly to: string; readonly text: string; readonly from?: string | undefined },
    ) => Effect.Effect<{ readonly id: string }, AgentServiceError>
    readonly wallet: (instanceId: string) => Effect.Effect<{ readonly address: string }, AgentServiceError>
    readonly limits: DailyLimits
  }
>()("pool-core/providers/services/AgentServices") {}

const dbError = (cause: unknown) =>
  new ProviderError({
    provider: "database",
    operation: "look up resources",
    status: null,
    retryable: true,
    message: `The pool's database did not answer; try again shortly. ${String(cause)}`,
  })

/** Needs SqlClient, AgentMail, Telnyx and AgentWallets (agentResourcesLayerFromEnv provides the last three). */
export const AgentServicesLive = Layer.effect(
  AgentServices,
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const mail = yield* AgentMail
    const telnyx = yield* Telnyx
    const wallets = yield* AgentWallets
    const limits = yield* dailyLimitsConfig
    const usage = yield* makeUsage(limits)

    const inboxOf = (instanceId: string) =>
      sql<{
        externalId: string
      }>`SELECT external_id FROM instance_resources WHERE instance_id = ${instanceId} AND provider = 'agentmail'`.pipe(
        Effect.map((rows) => Option.fromNullishOr(rows[0]?.externalId)),
        Effect.mapError(dbError),
      )
    // phone_numbers is where a number's holder is authoritative (assignment is one guarded UPDATE).
    const numberOf = (instanceId: string) =>
      sql<{
        phoneNumber: string
      }>`SELECT phone_number FROM phone_numbers WHERE instance_id = ${instanceId} AND status = 'assigned' ORDER BY updated_at LIMIT 1`.pipe(
        Effect.map((rows) => Option.fromNullishOr(rows[0]?.phoneNumber)),
        Effect.mapError(dbError),
      )

    const held = <A>(found: Option.Option<A>, service: string, what: string) =>
      Option.isSome(found)
        ? Effect.succeed(found.value)
        : Effect.fail(
            new ServiceNotHeld({
              service,
              message: `This agent has no ${what}: the pool did not give it one (the service is not set up for this pool). Tell the person it is not available.`,
            }),
          )

    /** A `from` naming something else than the agent's own resource is refused (never silently replaced). */
    const ownOnly = (own: string, from: string | undefined, service: string, what: string) =>
      from === undefined || from.trim().toLowerCase() === own.toLowerCase()
        ? Effect.void
        : Effect.fail(
            new NotYourResource({
              service,
              message: `${from} is not this agent's ${what}; an agent can only use its own (${own}). Leave "from" out to use it.`,
            }),
          )

    /** Counts the message, calls the provider, and gives the count back when the provider surely did not send it. */
    const metered = <A>(instanceId: string, service: Service, send: Effect.Effect<A, ProviderError | NotConfigured>) =>
      Effect.gen(function* () {
        const day = yield* usage.take(instanceId, service)
        return yield* send.pipe(
          Effect.tapError((e) =>
            e._tag === "ProviderError" && mayHaveHappened(e) ? Effect.void : usage.giveBack(instanceId, service, day),
          ),
        )
      })

    const me = (instanceId: string) =>
      Effect.gen(function* () {
        const [inbox, number, wallet] = yield* Effect.all(
          [inboxOf(instanceId), numberOf(instanceId), wallets.get(instanceId)],
          { concurrency: "unbounded" },
        )
        return {
          email: Option.isSome(inbox) ? { address: inbox.value } : null,
          phone: Option.isSome(number) ? { number: number.value } : null,
          wallet: Option.isSome(wallet) ? { address: wallet.value.address } : null,
        }
      })

    return AgentServices.of({
      limits,
      me,
      sendEmail: (instanceId, email) =>
        Effect.gen(function* () {
          const inbox = yield* held(yield* inboxOf(instanceId), "email", "email inbox")
          yield* ownOnly(inbox, email.from, "email", "inbox")
          const messageId = yield* metered(
            instanceId,
            "email",
            mail.sendMessage(inbox, { to: email.to, subject: email.subject, text: email.text }),
          )
          return { messageId }
        }),
      listEmails: (instanceId, limit) =>
        Effect.gen(function* () {
          const inbox = yield* held(yield* inboxOf(instanceId), "email", "email inbox")
          return { messages: yield* mail.listMessages(inbox, limit) }
        }),
      sendSms: (instanceId, sms) =>
        Effect.gen(function* () {
          const number = yield* held(yield* numberOf(instanceId), "sms", "phone number")
          yield* ownOnly(number, sms.from, "sms", "phone number")
          const id = yield* metered(instanceId, "sms", telnyx.sendSms(number, sms.to, sms.text))
          return { id }
        }),
      wallet: (instanceId) =>
        wallets.get(instanceId).pipe(
          Effect.flatMap((w) => held(w, "wallet", "wallet")),
          Effect.map((w) => ({ address: w.address })),
        ),
    })
  }),
)
