// /avatar: the owner's picture for their agent. The pool fetches it (fetchImage.ts: a stranger's URL never reaches the
// private network), hands it to the running agent through the runtime contract (PATCH /pool/agent {avatar}), and keeps
// it. The agent encrypts it once per conversation with that group's image key (Convos: each group has its own) and
// uploads each copy here (agent service API); the pool serves the copies at /avatars/<id> to the members who download
// and decrypt them.
import { randomBytes, createHash } from "node:crypto"
import { Effect, Option } from "effect"
import type { SqlClient } from "effect/sql"
import { LIMITS } from "@convos-agents/contract"
import type { PoolSettings } from "../../config.ts"
import { InvalidRequest } from "../../domain/errors.ts"
import type { Pool } from "../Pool.ts"
import type { RuntimeClient } from "../RuntimeClient.ts"
import type { ClaimedOwned } from "../ownership.ts"
import { toDatabaseError } from "../repo.ts"
import { fetchImage } from "./fetchImage.ts"

/** An agent keeps one encrypted copy per conversation; more conversations than this cannot all show its picture. */
export const AVATAR_BLOBS_PER_AGENT = 500
/** AES-GCM appends a 16-byte tag to the picture. */
const MAX_CIPHERTEXT = LIMITS.avatarBytes + 16
const CONVERSATION_ID = /^[A-Za-z0-9_-]{1,128}$/

export const makeAvatars = (deps: {
  readonly sql: SqlClient.SqlClient
  readonly settings: PoolSettings
  readonly runtime: RuntimeClient["Service"]
  readonly token: (id: string) => string
  /** The owner's running agent (refused as missing for anyone else, before anything is fetched). */
  readonly claimedOwned: ClaimedOwned
}): Pick<Pool["Service"], "setAvatar" | "putAvatarBlob" | "avatarBlob"> => {
  const { sql } = deps
  return {
    setAvatar: (id, owner, url) =>
      Effect.gen(function* () {
        const agent = yield* deps.claimedOwned(id, owner)
        const image = yield* fetchImage(url, deps.settings.avatarFetch)
        // The agent keeps the picture even when it missed some conversations (it shows in the ones it reached and the
        // ones it joins later), so it is recorded either way and the owner hears what it missed.
        const notPlaced = yield* deps.runtime
          .update(agent.url!, deps.token(id), {
            avatar: { contentType: image.contentType, data: Buffer.from(image.bytes).toString("base64") },
          })
          .pipe(
            Effect.as(null),
            Effect.catchTag("AvatarNotPlaced", (e) => Effect.succeed(e)),
          )
        const sha256 = createHash("sha256").update(image.bytes).digest("hex")
        yield* sql`
          INSERT INTO agent_avatars (instance_id, content_type, image, sha256, source_url, set_by)
          VALUES (${id}, ${image.contentType}, ${image.bytes}, ${sha256}, ${url.trim()}, ${owner})
          ON CONFLICT (instance_id) DO UPDATE SET content_type = excluded.content_type, image = excluded.image,
            sha256 = excluded.sha256, source_url = excluded.source_url, set_by = excluded.set_by, set_at = now()
        `.pipe(Effect.mapError(toDatabaseError))
        if (notPlaced) return yield* notPlaced
        return { agent, bytes: image.bytes.length, contentType: image.contentType, sha256 }
      }),

    putAvatarBlob: (instanceId, conversationId, ciphertext) =>
      Effect.gen(function* () {
        if (!CONVERSATION_ID.test(conversationId))
          return yield* new InvalidRequest({
            field: "conversation",
            message: "conversation must be the conversation id the picture is for (letters, digits, _ and -).",
          })
        if (ciphertext.length < 17 || ciphertext.length > MAX_CIPHERTEXT)
          return yield* new InvalidRequest({
            field: "body",
            message: `The body must be the encrypted picture: 17 to ${MAX_CIPHERTEXT} bytes (got ${ciphertext.length}).`,
          })
        const blobId = randomBytes(18).toString("base64url")
        const rows = yield* sql<{ n: number }>`
          SELECT count(*)::int AS n FROM avatar_blobs WHERE instance_id = ${instanceId} AND conversation_id <> ${conversationId}
        `.pipe(Effect.mapError(toDatabaseError))
        if ((rows[0]?.n ?? 0) >= AVATAR_BLOBS_PER_AGENT)
          return yield* new InvalidRequest({
            field: "conversation",
            message: `This agent already has pictures for ${AVATAR_BLOBS_PER_AGENT} conversations, the most the pool keeps.`,
          })
        // A newer copy for the same conversation replaces the older one (its profile now names the new URL).
        yield* sql`
          INSERT INTO avatar_blobs (id, instance_id, conversation_id, ciphertext)
          VALUES (${blobId}, ${instanceId}, ${conversationId}, ${ciphertext})
          ON CONFLICT (instance_id, conversation_id) DO UPDATE SET id = excluded.id, ciphertext = excluded.ciphertext,
            created_at = now()
        `.pipe(Effect.mapError(toDatabaseError))
        return { id: blobId, path: `/avatars/${blobId}` }
      }),

    avatarBlob: (blobId) =>
      sql<{ ciphertext: Uint8Array }>`SELECT ciphertext FROM avatar_blobs WHERE id = ${blobId}`.pipe(
        Effect.map((rows) => Option.fromNullishOr(rows[0]?.ciphertext).pipe(Option.map((b) => new Uint8Array(b)))),
        Effect.mapError(toDatabaseError),
      ),
  }
}
