import { Context, Effect, Layer, Option, Redacted, Schema } from "effect"
import { NotConfigured, type ProviderError } from "../../domain/errors.ts"
import { resourcePrefix } from "../environment.ts"
import { optionalSecret, providerEnvironment, readConfig, stringOr } from "../http/env.ts"
import { makeProviderHttp, mayHaveHappened, type ProviderHttpOptions } from "../http/ProviderHttp.ts"

// One AgentMail inbox per agent, named for the pool's environment (`convos-<environment>-<id>@domain`), so staging
// and production sharing one AgentMail org can tell their inboxes apart. `client_id` makes the create idempotent: a retried create after a lost answer
// returns the same inbox instead of a second one.
//
// The agent holds no AgentMail key at all, neither the org key nor a scoped one: it sends and reads its mail through
// the pool's service API (/api/agent-services/email/*), which checks the inbox is the agent's own and applies the
// daily limit, then calls AgentMail here with the org key.

/**
 * The inbox's username (the address's local part): `convos-<environment>-<instanceId>`. An address's local part holds
 * at most 64 characters, so a long name drops the id's dashes, then shortens the environment part; the instance id
 * stays whole (it keeps the address unique) and the client_id carries the environment in full.
 */
export const inboxUsername = (environment: string, instanceId: string): string => {
  const full = `${resourcePrefix(environment)}${instanceId}`
  if (full.length <= 64) return full
  const id = instanceId.replace(/-/g, "")
  return `${resourcePrefix(environment.slice(0, Math.max(1, 64 - "convos--".length - id.length)).replace(/-+$/, ""))}${id}`.slice(
    0,
    64,
  )
}

/** The inbox's client_id (AgentMail answers the same inbox for the same client_id): `convos-<environment>-agent-<id>`. */
export const inboxClientId = (environment: string, instanceId: string) =>
  `${resourcePrefix(environment)}agent-${instanceId}`

const Inbox = Schema.Struct({ inbox_id: Schema.String, email: Schema.optional(Schema.String) })
const Sent = Schema.Struct({ message_id: Schema.String })
/** One listed message (AgentMail "List Messages"); only what we use. */
const Listed = Schema.Struct({
  message_id: Schema.String,
  from: Schema.String,
  subject: Schema.optional(Schema.NullOr(Schema.String)),
  preview: Schema.optional(Schema.NullOr(Schema.String)),
  timestamp: Schema.String,
})
const ListedPage = Schema.Struct({ messages: Schema.Array(Listed) })
/** Full messages (AgentMail "Batch Get Messages"): the text body. */
const FullPage = Schema.Struct({
  messages: Schema.Array(
    Schema.Struct({
      message_id: Schema.String,
      text: Schema.optional(Schema.NullOr(Schema.String)),
      extracted_text: Schema.optional(Schema.NullOr(Schema.String)),
    }),
  ),
})

export interface InboxInfo {
  readonly inboxId: string
  readonly address: string
}

export interface OutgoingEmail {
  readonly to: string
  readonly subject: string
  readonly text: string
}

export interface ReceivedEmail {
  readonly id: string
  readonly from: string
  readonly subject: string
  readonly text: string
  readonly receivedAt: string
}

export class AgentMail extends Context.Service<
  AgentMail,
  {
    readonly configured: boolean
    readonly createInbox: (instanceId: string) => Effect.Effect<InboxInfo, ProviderError | NotConfigured>
    /** Deletes the inbox; an unknown inbox counts as deleted. */
    readonly deleteInbox: (inboxId: string) => Effect.Effect<void, ProviderError | NotConfigured>
    /** Sends from the inbox; answers AgentMail's message id. Not retried after a timeout/5xx (it may have gone out). */
    readonly sendMessage: (
      inboxId: string,
      email: OutgoingEmail,
    ) => Effect.Effect<string, ProviderError | NotConfigured>
    /** The newest `limit` messages of the inbox with their text (two calls: list, then batch get). */
    readonly listMessages: (
      inboxId: string,
      limit: number,
    ) => Effect.Effect<ReadonlyArray<ReceivedEmail>, ProviderError | NotConfigured>
  }
>()("pool-core/providers/agentmail/AgentMail") {}

export interface AgentMailSettings {
  readonly apiKey: Redacted.Redacted<string>
  /** POOL_ENVIRONMENT: in every inbox's username, client_id and key name. */
  readonly environment: string
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
    const deleteInbox = (inboxId: string) =>
      http
        .request({
          operation: "delete inbox",
          method: "DELETE",
          path: `v0/inboxes/${encodeURIComponent(inboxId)}`,
          okStatuses: [404],
        })
        .pipe(Effect.asVoid)

    const inboxPath = (inboxId: string) => `v0/inboxes/${encodeURIComponent(inboxId)}`

    const sendMessage = (inboxId: string, email: OutgoingEmail) =>
      http
        .json(
          {
            operation: "send message",
            method: "POST",
            path: `${inboxPath(inboxId)}/messages/send`,
            body: { to: email.to, subject: email.subject, text: email.text },
          },
          Sent,
        )
        .pipe(Effect.map((r) => r.message_id))

    const listMessages = (inboxId: string, limit: number) =>
      Effect.gen(function* () {
        const page = yield* http.json(
          { operation: "list messages", method: "GET", path: `${inboxPath(inboxId)}/messages?limit=${limit}` },
          ListedPage,
        )
        if (page.messages.length === 0) return []
        // The list carries a preview only; the text comes from one batch get (read-only, so retried freely).
        const full = yield* http.json(
          {
            operation: "get messages",
            method: "POST",
            path: `${inboxPath(inboxId)}/messages/batch-get`,
            body: { message_ids: page.messages.map((m) => m.message_id) },
            idempotent: true,
          },
          FullPage,
        )
        const texts = new Map(full.messages.map((m) => [m.message_id, m.text ?? m.extracted_text ?? null]))
        return page.messages.map(
          (m): ReceivedEmail => ({
            id: m.message_id,
            from: m.from,
            subject: m.subject ?? "",
            text: texts.get(m.message_id) ?? m.preview ?? "",
            receivedAt: m.timestamp,
          }),
        )
      })

    return AgentMail.of({
      configured: true,
      createInbox: (instanceId) =>
        Effect.gen(function* () {
          const username = inboxUsername(settings.environment, instanceId)
          const inbox = yield* http
            .json(
              {
                operation: "create inbox",
                method: "POST",
                path: "v0/inboxes",
                body: {
                  username,
                  ...(settings.domain ? { domain: settings.domain } : {}),
                  display_name: "Convos Agent",
                  client_id: inboxClientId(settings.environment, instanceId),
                },
                idempotent: true, // client_id: the same create answers the same inbox
              },
              Inbox,
            )
            .pipe(
              // Every try lost its answer: AgentMail may have made the inbox anyway. Its id is known (username@domain),
              // so delete it rather than leave an inbox nobody records.
              Effect.tapError((e) =>
                mayHaveHappened(e) || /unexpected shape|not JSON/.test(e.message)
                  ? deleteInbox(`${username}@${settings.domain ?? "agentmail.to"}`).pipe(Effect.ignore)
                  : Effect.void,
              ),
            )
          return { inboxId: inbox.inbox_id, address: inbox.email ?? inbox.inbox_id }
        }),
      deleteInbox,
      sendMessage,
      listMessages,
    })
  })

const notConfigured = Effect.fail(NotConfigured.create("AgentMail", "AGENTMAIL_API_KEY"))

export const agentMailDisabled = Layer.succeed(AgentMail, {
  configured: false,
  createInbox: () => notConfigured,
  deleteInbox: () => notConfigured,
  sendMessage: () => notConfigured,
  listMessages: () => notConfigured,
})

/** Live when AGENTMAIL_API_KEY is set, disabled otherwise. */
export const agentMailLayerFromEnv = Layer.unwrap(
  Effect.gen(function* () {
    const key = yield* readConfig(optionalSecret("AGENTMAIL_API_KEY"))
    if (Option.isNone(key)) return agentMailDisabled
    const baseUrl = yield* readConfig(stringOr("AGENTMAIL_BASE_URL", "https://api.agentmail.to"))
    const domain = yield* readConfig(stringOr("AGENTMAIL_DOMAIN", ""))
    const environment = yield* providerEnvironment
    return agentMailLive({ apiKey: key.value, environment, baseUrl, domain: domain === "" ? null : domain })
  }),
)
