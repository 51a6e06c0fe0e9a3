import { Effect } from "effect"
import type { ResourceProvider } from "../resources/ResourceProvider.ts"
import { Telnyx } from "./Telnyx.ts"

/** A phone number per agent. It stays with the pool (the agent texts through the agent service API). */
export const telnyxResource = Effect.map(
  Effect.service(Telnyx),
  (telnyx): ResourceProvider => ({
    name: "telnyx",
    configured: telnyx.configured,
    take: (instanceId) => Effect.map(telnyx.acquire(instanceId), (phone) => ({ externalId: phone, env: {} })),
    record: "rows",
    free: (instanceId) => Effect.asVoid(telnyx.release(instanceId)),
    // A number can be assigned in phone_numbers before its instance_resources row exists (a crash in between):
    // releasing by instance id covers it too. Best effort: a row left behind is released by the next release.
    releaseInstance: (instanceId) => Effect.ignore(telnyx.release(instanceId)),
  }),
)
