// Joiner side of the Convos join protocol (what an agent or a person does with someone's invite): DM the creator a
// join_request (pushed) plus the bare slug as text (older apps read only text), then wait for a group whose appData
// tag is the invite's tag to show up; the creator's device adds us. Then announce our profile in the group.
import { Effect } from "effect"
import type { MessagingClient, MessagingIdentity } from "../Messaging.ts"
import { isType, InviteJoinErrorType, joinRequestContent, profileUpdateContent, readJoinError } from "./contentTypes.ts"
import { InviteError } from "./errors.ts"
import { parseInvite } from "./invite.ts"
import { decodeMetadata } from "./metadata.ts"

export interface JoinOptions {
  readonly profile: { readonly name: string; readonly kind: "agent" | "human" }
  /** How long to wait for the creator to add us before reporting "pending". Default 60 s. */
  readonly timeoutMs?: number
  readonly pollMs?: number
  readonly metadata?: Readonly<Record<string, string>>
}

export type JoinResult =
  | { readonly _tag: "Joined"; readonly conversationId: string; readonly tag: string }
  /** The creator has not let us in yet (their device may be offline); not a failure. */
  | { readonly _tag: "Pending"; readonly tag: string; readonly creatorInboxId: string }

export class JoinFailed {
  readonly _tag = "JoinFailed"
  constructor(readonly errorType: string, readonly message: string) {}
}

export const joinByInvite = (client: MessagingClient, me: MessagingIdentity, url: string, options: JoinOptions) =>
  Effect.gen(function* () {
    const invite = yield* Effect.try({ try: () => parseInvite(url), catch: (e) => (e instanceof InviteError ? e : new InviteError({ reason: "malformed", message: String(e) })) })
    const { tag, creatorInboxId } = invite.payload
    if (creatorInboxId === me.inboxId) return yield* new InviteError({ reason: "own-invite", message: "That is your own invite; share it with someone else." })

    const findGroup = client.conversations.pipe(
      Effect.map((all) => all.find((c) => c.kind === "group" && decodeMetadata(c.appData)?.tag === tag))
    )
    const existing = yield* findGroup
    if (existing) return { _tag: "Joined", conversationId: existing.id, tag } as JoinResult

    const dm = yield* client.dm(creatorInboxId)
    const sentAt = Date.now()
    yield* client.send(dm.id, joinRequestContent({ inviteSlug: invite.slug, profile: { name: options.profile.name, memberKind: options.profile.kind }, ...(options.metadata ? { metadata: options.metadata } : {}) }))
    yield* client.sendText(dm.id, invite.slug)

    const deadline = Date.now() + (options.timeoutMs ?? 60_000)
    while (Date.now() < deadline) {
      yield* client.sync
      const group = yield* findGroup
      if (group) {
        yield* client.setConsent(group.id, "allowed")
        yield* client.send(group.id, profileUpdateContent(options.profile.name, options.profile.kind))
        return { _tag: "Joined", conversationId: group.id, tag } as JoinResult
      }
      const replies = yield* client.messages(dm.id, { afterMs: sentAt - 1, limit: 50 })
      const error = replies.filter((m) => m.senderInboxId === creatorInboxId && isType(m, InviteJoinErrorType)).map(readJoinError).find((e) => e && e.inviteTag === tag)
      if (error) return yield* Effect.fail(new JoinFailed(error.errorType, error.reason ?? `The invite's owner refused the join (${error.errorType.replace(/_/g, " ")}).`))
      yield* Effect.sleep(options.pollMs ?? 300)
    }
    return { _tag: "Pending", tag, creatorInboxId } as JoinResult
  })

