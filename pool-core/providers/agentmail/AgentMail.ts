import { Context, Effect, Layer, Option, Redacted, Schema } from "effect"
import { NotConfigured, type ProviderError } from "../../domain/errors.ts"
import { resourcePrefix } from "../environment.ts"
import { optionalSecret, providerEnvironment, readConfig, stringOr } from "../http/env.ts"
import { makeProviderHttp, mayHaveHappened, type ProviderHttpOptions } from "../http/ProviderHttp.ts"

// One AgentMail inbox per agent, named for the pool's environment (`convos-<environment>-<id>@domain`), so staging
// and production sharing one AgentMail org can tell their inboxes apart. `client_id` makes the create idempotent: a retried create after a lost answer
// returns the same inbox instead of a second one.
//
// The agent's email skill needs an API key. It gets a key scoped to its own inbox (POST /v0/inboxes/:id/api-keys),
// never the org key: an agent can read and send only its own mail. A scoped key ends with its inbox, so deleting the
// inbox at release is the whole cleanup, and a key created twice (retried after a lost answer) leaks nothing. Only if
// AgentMail has no scoped keys for this org (404/405 on that route) does the skill fall back to the org key, as the
// upstream system always did, with a warning in the log.

/**
 * The inbox's username (the address's local part): `convos-<environment>-<instanceId>`. An address's local part holds
 * at most 64 characters, so a long name drops the id's dashes, then shortens the environment part; the instance id
 * stays whole (it keeps the address unique) and the client_id carries the environment in full.
 */
export const inboxUsername = (environment: string, instanceId: string): string => {
  const full = `${resourcePrefix(environment)}${instanceId}`
  if (full.length <= 64) return full
  const id = instanceId.replace(/-/g, "")
  return `${resourcePrefix(environment.slice(0, Math.max(1, 64 - "convos--".length - id.length)).replace(/-+$/, ""))}${id}`.slice(0, 64)
}

/** The inbox's client_id (AgentMail answers the same inbox for the same client_id): `convos-<environment>-agent-<id>`. */
export const inboxClientId = (environment: string, instanceId: string) => `${resourcePrefix(environment)}agent-${instanceId}`

const Inbox = Schema.Struct({ inbox_id: Schema.String, email: Schema.optional(Schema.String) })
const ScopedKey = Schema.Struct({ api_key: Schema.String })

export interface InboxInfo {
  readonly inboxId: string
  readonly address: string
  /** What the agent's email skill needs (AGENTMAIL_API_KEY scoped to this inbox, AGENTMAIL_INBOX_ID …). Secret. */
  readonly env: Readonly<Record<string, string>>
}

export class AgentMail extends Context.Service<AgentMail, {
  readonly configured: boolean
  readonly createInbox: (instanceId: string) => Effect.Effect<InboxInfo, ProviderError | NotConfigured>
  /** Deletes the inbox; an unknown inbox counts as deleted. */
  readonly deleteInbox: (inboxId: string) => Effect.Effect<void, ProviderError | NotConfigured>
}>()("pool-core/providers/agentmail/AgentMail") {}

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
      http.request({ operation: "delete inbox", method: "DELETE", path: `v0/inboxes/${encodeURIComponent(inboxId)}`, okStatuses: [404] }).pipe(Effect.asVoid)

    const scopedKey = (inboxId: string, instanceId: string) =>
      http
        .json(
          // Retried freely: a second key for the same inbox ends with the inbox like the first.
          { operation: "create inbox key", method: "POST", path: `v0/inboxes/${encodeURIComponent(inboxId)}/api-keys`, body: { name: inboxClientId(settings.environment, instanceId) }, idempotent: true },
          ScopedKey
        )
        .pipe(
          Effect.map((k) => k.api_key),
          Effect.catchIf(
            (e) => e.status === 404 || e.status === 405,
            () =>
              Effect.logWarning("agentmail: no inbox-scoped API keys for this org; the agent's email skill uses the org key").pipe(
                Effect.as(Redacted.value(settings.apiKey))
              )
          )
        )

    return AgentMail.of({
      configured: true,
      createInbox: (instanceId) =>
        Effect.gen(function* () {
          const username = inboxUsername(settings.environment, instanceId)
          const inbox = yield* http.json(
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
            Inbox
          ).pipe(
            // Every try lost its answer: AgentMail may have made the inbox anyway. Its id is known (username@domain),
            // so delete it rather than leave an inbox nobody records.
            Effect.tapError((e) =>
              mayHaveHappened(e) || /unexpected shape|not JSON/.test(e.message)
                ? deleteInbox(`${username}@${settings.domain ?? "agentmail.to"}`).pipe(Effect.ignore)
                : Effect.void
            )
          )
          // No key, no skill: give the inbox back rather than leave it to nobody (it is not recorded yet).
          const key = yield* scopedKey(inbox.inbox_id, instanceId).pipe(
            Effect.tapError(() => deleteInbox(inbox.inbox_id).pipe(Effect.catch((e) => Effect.logWarning(`agentmail: could not delete inbox ${inbox.inbox_id} after its key failed: ${e.message}`))))
          )
          const address = inbox.email ?? inbox.inbox_id
          return { inboxId: inbox.inbox_id, address, env: { AGENTMAIL_API_KEY: key, AGENTMAIL_INBOX_ID: inbox.inbox_id, AGENTMAIL_INBOX_ADDRESS: address } }
        }),
      deleteInbox,
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
    const environment = yield* Effect.orDie(providerEnvironment)
    return agentMailLive({ apiKey: key.value, environment, baseUrl, domain: domain === "" ? null : domain })
  })
)
