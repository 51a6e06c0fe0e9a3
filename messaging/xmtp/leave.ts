// Leaving a group on XMTP (node-sdk's Group.requestRemoval: a leave request that the group's admins' clients commit).
// The protocol refuses a super admin's leave and the last member's (1 -> 0), so, as the Convos app does: a sole super
// admin first makes the first other member super admin, then drops its own role, then asks to leave; consent becomes
// Denied so the stream (Allowed/Unknown only) stops delivering the group while the removal is pending.
import { Effect } from "effect"
import type { Group } from "@xmtp/node-sdk"
import { MessagingError } from "../errors.ts"

const CONSENT_DENIED = 2

const step = <A>(what: string, f: () => Promise<A> | A) =>
  Effect.tryPromise({
    try: async () => f(),
    catch: (e) => {
      const text = e instanceof Error ? e.message : String(e)
      return new MessagingError({
        reason: /permission|not allowed|policy/i.test(text)
          ? "forbidden"
          : /LeaveCantProcessed|leave validation|only one member|cannot leave/i.test(text)
            ? "invalid"
            : "network",
        message: `XMTP leave (${what}) failed: ${text}`,
      })
    },
  })

export const leaveGroup = (
  self: string,
  conversationId: string,
  g: Group<unknown>,
): Effect.Effect<void, MessagingError> =>
  Effect.gen(function* () {
    if (!g.isActive)
      return yield* new MessagingError({
        reason: "not-member",
        message: `You are no longer a member of conversation ${conversationId}.`,
      })
    // Asked before (a retry): only make sure it is hidden.
    if (!g.isPendingRemoval()) {
      const members = yield* step("listing members", () => g.members())
      const others = members.filter((m) => m.inboxId !== self)
      if (others.length === 0)
        return yield* new MessagingError({
          reason: "invalid",
          message: `You are the only member of conversation ${conversationId}; there is nobody to leave it to.`,
        })
      if (g.isSuperAdmin(self)) {
        if (!g.listSuperAdmins().some((id) => id !== self))
          yield* step("handing over super admin", () => g.addSuperAdmin(others[0]!.inboxId))
        yield* step("dropping own super admin role", () => g.removeSuperAdmin(self))
      }
      yield* step("requesting removal", () => g.requestRemoval())
    }
    yield* step("hiding the conversation", () => g.updateConsentState(CONSENT_DENIED))
  })
