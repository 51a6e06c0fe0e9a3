// Uploads the agent's encrypted profile picture for one conversation to the pool (agent service API POST
// /api/agent-services/me/avatar-blobs?conversation=<id>, instance token), which serves it at a public path; members
// download it from POOL_SERVICES_URL + that path (the URL the agent reaches the pool at: POOL_PUBLIC_URL on remote
// compute, loopback on the local default).
import { Effect } from "effect"
import type { UploadImage } from "../agent/avatar.ts"
import { AvatarUnavailable } from "../agent/errors.ts"
import type { ServiceEndpoint } from "./agentServices.ts"

const TIMEOUT_MS = 30_000

export const makeImageUploader =
  (endpoint: () => ServiceEndpoint | null): UploadImage =>
  (conversationId, ciphertext) =>
    Effect.tryPromise({
      try: async (signal) => {
        const e = endpoint()
        if (!e) throw new Error("no POOL_SERVICES_URL, INSTANCE_ID and INSTANCE_TOKEN")
        const res = await fetch(
          `${e.baseUrl}/api/agent-services/me/avatar-blobs?conversation=${encodeURIComponent(conversationId)}`,
          {
            method: "POST",
            headers: {
              authorization: `Bearer ${e.token}`,
              "x-instance-id": e.instanceId,
              "content-type": "application/octet-stream",
            },
            body: ciphertext as Uint8Array<ArrayBuffer>,
            signal: AbortSignal.any([signal, AbortSignal.timeout(TIMEOUT_MS)]),
          },
        )
        const answer = (await res.json().catch(() => ({}))) as { path?: unknown; error?: unknown }
        if (!res.ok || typeof answer.path !== "string" || !answer.path.startsWith("/"))
          throw new Error(
            `the pool answered ${res.status}${typeof answer.error === "string" ? `: ${answer.error}` : ""}`,
          )
        return `${e.baseUrl}${answer.path}`
      },
      catch: (e) =>
        new AvatarUnavailable({
          message: `Uploading the profile picture to the pool failed (${e instanceof Error ? e.message : String(e)}); try /avatar again in a minute.`,
        }),
    })
