// The conversations an owner's running agent is in, and making it leave one (manager bot /agent and /leave). Both ask
// the agent's runtime (GET /convos/conversations, POST /convos/leave); both are owner-scoped like the other owner
// operations (someone else's agent fails exactly like a missing one). A leave is recorded in the events table.
import { Effect } from "effect"
import type { SqlClient } from "effect/sql"
import { InvalidRequest, ProviderError } from "../domain/errors.ts"
import { type InstanceRepo, toDatabaseError } from "./repo.ts"
import type { ClaimedOwned } from "./ownership.ts"
import type { RuntimeClient } from "./RuntimeClient.ts"

export interface ConversationsDeps {
  readonly sql: SqlClient.SqlClient
  readonly repo: InstanceRepo["Service"]
  readonly runtime: RuntimeClient["Service"]
  readonly token: (id: string) => string
  readonly claimedOwned: ClaimedOwned
}

export const makeConversations = (deps: ConversationsDeps) => {
  const conversations = (id: string, owner: string) =>
    deps.claimedOwned(id, owner).pipe(Effect.flatMap((i) => deps.runtime.conversations(i.url!, deps.token(id))))

  const leave = (id: string, owner: string, conversationId: string) =>
    Effect.gen(function* () {
      const conversation = conversationId.trim()
      if (conversation === "")
        return yield* new InvalidRequest({ field: "conversation", message: "Name the conversation to leave." })
      const i = yield* deps.claimedOwned(id, owner)
      yield* deps.runtime.leave(i.url!, deps.token(id), conversation).pipe(
        Effect.catchIf(
          (e): e is ProviderError => e instanceof ProviderError && e.status === 404,
          () =>
            Effect.fail(
              new InvalidRequest({ field: "conversation", message: `It is not in conversation ${conversation}.` }),
            ),
        ),
      )
      // Its own conversation gone, the row stops offering that conversation and its invite.
      if (i.conversationId === conversation) yield* deps.repo.update(id, { conversationId: null, inviteUrl: null })
      yield* deps.sql`
        INSERT INTO events (instance_id, from_status, to_status, kind, detail)
        VALUES (${id}, ${i.status}, ${i.status}, 'leave', ${conversation})`.pipe(Effect.mapError(toDatabaseError))
      return conversation
    })

  return { conversations, leave } as const
}
