import { Context, Effect, Layer, Option, Redacted, Schema } from "effect"
import { NotConfigured, type ProviderError } from "../../domain/errors.ts"
import { optionalSecret, readConfig, stringOr } from "../http/env.ts"
import { makeProviderHttp, type ProviderHttpOptions } from "../http/ProviderHttp.ts"

// One AgentMail inbox per agent. `client_id` makes the create idempotent: a retried create after a lost answer
// returns the same inbox instead of a second one.

const Inbox = Schema.Struct({ inbox_id: Schema.String, email: Schema.optional(Schema.String) })

export interface InboxInfo {
  readonly inboxId: string
  readonly address: string
}

export class AgentMail extends Context.Service<AgentMail, {
  readonly configured: boolean
  readonly createInbox: (instanceId: string) => Effect.Effect<InboxInfo, ProviderError | NotConfigured>
  /** Deletes the inbox; an unknown inbox counts as deleted. */
  readonly deleteInbox: (inboxId: string) => Effect.Effect<void, ProviderError | NotConfigured>
}>()("pool-core/providers/agentmail/AgentMail") {}

export interface AgentMailSettings {
  readonly apiKey: Redacted.Redacted<string>
  readonly baseUrl: string
  readonly domain: string | null
  readonly http?: Partial<ProviderHttpOptions>
}

export const agentMailLive = (settings: AgentMailSettings) =>
  Layer.sync(AgentMail, () => {
    const http = makeProviderHttp({
      provider: "agentmail",
      baseUrl: settings.baseUrl,
      headers: { authorization: Redacted.make(`Bearer ${Redacted.value(settings.apiKey)}`) },
      ...settings.http,
    })
    return AgentMail.of({
      configured: true,
      createInbox: (instanceId) =>
        http
          .json(
            {
              operation: "create inbox",
              method: "POST",
              path: "v0/inboxes",
              body: {
                username: `convos-agent-${instanceId}`,
                ...(settings.domain ? { domain: settings.domain } : {}),
                display_name: "Convos Agent",
                client_id: `convos-agent-${instanceId}`,
              },
            },
            Inbox
          )
          .pipe(Effect.map((r) => ({ inboxId: r.inbox_id, address: r.email ?? r.inbox_id }))),
      deleteInbox: (inboxId) =>
        http.request({ operation: "delete inbox", method: "DELETE", path: `v0/inboxes/${encodeURIComponent(inboxId)}`, okStatuses: [404] }).pipe(Effect.asVoid),
    })
  })

const notConfigured = Effect.fail(NotConfigured.create("AgentMail", "AGENTMAIL_API_KEY"))

export const agentMailDisabled = Layer.succeed(AgentMail, {
  configured: false,
  createInbox: () => notConfigured,
  deleteInbox: () => notConfigured,
})

/** Live when AGENTMAIL_API_KEY is set, disabled otherwise. */
export const agentMailLayerFromEnv = Layer.unwrap(
  Effect.gen(function* () {
    const key = yield* readConfig(optionalSecret("AGENTMAIL_API_KEY"))
    if (Option.isNone(key)) return agentMailDisabled
    const baseUrl = yield* readConfig(stringOr("AGENTMAIL_BASE_URL", "https://api.agentmail.to"))
    const domain = yield* readConfig(stringOr("AGENTMAIL_DOMAIN", ""))
    return agentMailLive({ apiKey: key.value, baseUrl, domain: domain === "" ? null : domain })
  })
)
