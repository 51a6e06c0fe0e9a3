// Joiner side of the Convos join protocol (what an agent or a person does with someone's invite): DM the creator a
// join_request (pushed) plus the bare slug as text (older apps read only text), then wait for a group whose appData
// tag is the invite's tag to show up; the creator's device adds us. Then announce our profile in the group.
import { Duration, Effect, Schedule } from "effect"
import type { MessagingClient, MessagingIdentity } from "../Messaging.ts"
import { isType, InviteJoinErrorType, joinRequestContent, profileUpdateContent, readJoinError } from "./contentTypes.ts"
import { InviteError } from "./errors.ts"
import { parseInvite } from "./invite.ts"
import { decodeMetadata } from "./metadata.ts"

export interface JoinOptions {
  readonly profile: { readonly name: string; readonly kind: "agent" | "human" }
  /** How long to wait for the creator to add us before reporting "pending". Default 60 s. */
  readonly timeoutMs?: number
  /** First wait between polls; it doubles after each poll up to `maxPollMs`. Default 250 ms. */
  readonly pollMs?: number
  /** Longest wait between polls. Default 10 s (a join pending for minutes costs a few polls a minute, not 240). */
  readonly maxPollMs?: number
  readonly metadata?: Readonly<Record<string, string>>
}

export type JoinResult =
  | { readonly _tag: "Joined"; readonly conversationId: string; readonly tag: string }
  /** The creator has not let us in yet (their device may be offline); not a failure. */
  | { readonly _tag: "Pending"; readonly tag: string; readonly creatorInboxId: string }

/**
 * When a pending join polls again: backing off from `pollMs` (250 ms) to `maxPollMs` (10 s), for `timeoutMs` (60 s).
 * Each poll syncs every conversation of the joiner, so a fixed 250 ms over a 10-minute background join was 2,400 syncs.
 */
export const joinPollSchedule = (options: Pick<JoinOptions, "timeoutMs" | "pollMs" | "maxPollMs">) => {
  const max = Duration.millis(options.maxPollMs ?? 10_000)
  return Schedule.max([
    Schedule.exponential(Duration.millis(options.pollMs ?? 250)).pipe(
      Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, max))),
    ),
    Schedule.during(Duration.millis(options.timeoutMs ?? 60_000)),
  ])
}

/** The invite's owner has not let us in yet (internal: makes the poll retry). */
const notYet = { _tag: "NotYetJoined" } as const

export class JoinFailed {
  readonly _tag = "JoinFailed"
  constructor(
    readonly errorType: string,
    readonly message: string,
  ) {}
}

export const joinByInvite = (client: MessagingClient, me: MessagingIdentity, url: string, options: JoinOptions) =>
  Effect.gen(function* () {
    const invite = yield* Effect.try({
      try: () => parseInvite(url),
      catch: (e) => (e instanceof InviteError ? e : new InviteError({ reason: "malformed", message: String(e) })),
    })
    const { tag, creatorInboxId } = invite.payload
    if (creatorInboxId === me.inboxId)
      return yield* new InviteError({
        reason: "own-invite",
        message: "That is your own invite; share it with someone else.",
      })

    const findGroup = client.conversations.pipe(
      Effect.map((all) => all.find((c) => c.kind === "group" && decodeMetadata(c.appData)?.tag === tag)),
    )
    const existing = yield* findGroup
    if (existing) return { _tag: "Joined", conversationId: existing.id, tag } as JoinResult

    const dm = yield* client.dm(creatorInboxId)
    const sentAt = Date.now()
    yield* client.send(
      dm.id,
      joinRequestContent({
        inviteSlug: invite.slug,
        profile: { name: options.profile.name, memberKind: options.profile.kind },
        ...(options.metadata ? { metadata: options.metadata } : {}),
      }),
    )
    yield* client.sendText(dm.id, invite.slug)

    const poll = Effect.gen(function* () {
      yield* client.sync
      const group = yield* findGroup
      if (group) {
        yield* client.setConsent(group.id, "allowed")
        yield* client.send(group.id, profileUpdateContent(options.profile.name, options.profile.kind))
        return { _tag: "Joined", conversationId: group.id, tag } as JoinResult
      }
      const replies = yield* client.messages(dm.id, { afterMs: sentAt - 1, limit: 50 })
      const error = replies
        .filter((m) => m.senderInboxId === creatorInboxId && isType(m, InviteJoinErrorType))
        .map(readJoinError)
        .find((e) => e && e.inviteTag === tag)
      if (error)
        return yield* Effect.fail(
          new JoinFailed(
            error.errorType,
            error.reason ?? `The invite's owner refused the join (${error.errorType.replace(/_/g, " ")}).`,
          ),
        )
      return yield* Effect.fail(notYet)
    })
    return yield* poll.pipe(
      Effect.retry({ schedule: joinPollSchedule(options), while: (e) => e === notYet }),
      Effect.catchIf(
        (e): e is typeof notYet => e === notYet,
        () => Effect.succeed({ _tag: "Pending", tag, creatorInboxId } as JoinResult),
      ),
    )
  })
