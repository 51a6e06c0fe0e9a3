// The agent's profile picture in Convos. Convos encrypts a profile image with the conversation's own image key (group
// appData field 4, made by whoever needs it first), so the agent keeps the picture (from the pool, PATCH /pool/agent
// {avatar}) in its state dir and, per conversation, encrypts it with that group's key, uploads the ciphertext to the
// pool (which serves it at a public URL) and names {url, salt, nonce} in its ProfileUpdate. A reference is kept per
// conversation and reused (renames, newcomers) until the picture changes.
import { createHash } from "node:crypto"
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Effect, Option } from "effect"
import type { MessagingClient, OutgoingContent } from "@convos-agents/messaging"
import {
  decodeMetadata,
  type EncryptedImageRef,
  encryptImage,
  generateImageKey,
  profileUpdateContent,
  updateMetadata,
} from "@convos-agents/messaging/convos"
import { AvatarMiss, AvatarUnavailable } from "./errors.ts"
import type { AgentState } from "./state.ts"

/** A reference as kept in the agent state (bytes in base64), for the picture with that sha256. */
export interface StoredImageRef {
  readonly url: string
  readonly salt: string
  readonly nonce: string
  readonly sha256: string
}

/** Uploads one conversation's ciphertext to the pool; resolves with the URL members download it from. */
export type UploadImage = (conversationId: string, ciphertext: Uint8Array) => Effect.Effect<string, AvatarUnavailable>

export interface AvatarDeps {
  readonly stateDir: string
  readonly state: () => AgentState
  readonly save: (next: AgentState) => Effect.Effect<void>
  readonly upload?: UploadImage
}

const imagePath = (stateDir: string) => join(stateDir, "convos", "avatar.img")

export const makeAvatar = (deps: AvatarDeps) => {
  const image = (): Uint8Array | null => {
    const avatar = deps.state().avatar
    if (!avatar || !existsSync(imagePath(deps.stateDir))) return null
    return new Uint8Array(readFileSync(imagePath(deps.stateDir)))
  }

  /** Keeps a new picture (the old references no longer apply). */
  const setImage = (bytes: Uint8Array, contentType: string) =>
    Effect.gen(function* () {
      if (!deps.upload)
        return yield* new AvatarUnavailable({
          message:
            "This agent cannot host a profile picture: it has no POOL_SERVICES_URL, INSTANCE_ID and INSTANCE_TOKEN to upload it to the pool. Set POOL_PUBLIC_URL on the pool and restart the agent.",
        })
      const tmp = `${imagePath(deps.stateDir)}.tmp`
      writeFileSync(tmp, bytes, { mode: 0o600 })
      renameSync(tmp, imagePath(deps.stateDir))
      const sha256 = createHash("sha256").update(bytes).digest("hex")
      yield* deps.save({ ...deps.state(), avatar: { contentType, sha256 }, avatarRefs: {} })
    })

  /** The picture's reference for one conversation: kept, or made now (key, encrypt, upload). Null without a picture. */
  const refFor = (client: MessagingClient, conversationId: string) =>
    Effect.gen(function* () {
      const avatar = deps.state().avatar
      const bytes = image()
      if (!avatar || !bytes || !deps.upload) return null
      const kept = deps.state().avatarRefs?.[conversationId]
      if (kept && kept.sha256 === avatar.sha256)
        return {
          url: kept.url,
          salt: new Uint8Array(Buffer.from(kept.salt, "base64")),
          nonce: new Uint8Array(Buffer.from(kept.nonce, "base64")),
        } satisfies EncryptedImageRef
      const group = yield* client.conversation(conversationId)
      const appData = Option.isSome(group) ? group.value.appData : null
      let key = decodeMetadata(appData)?.imageEncryptionKey
      if (!key) {
        // No member has needed the group's image key yet: make it, keeping the rest of the metadata (the invite tag).
        key = generateImageKey()
        yield* client
          .updateGroup(conversationId, { appData: updateMetadata(appData, { imageEncryptionKey: key }) })
          .pipe(
            Effect.mapError(
              (e) =>
                new AvatarMiss({
                  conversationId,
                  reason: "not_allowed",
                  message: `the agent may not change the details of conversation ${conversationId}, so it cannot add the image key its picture needs there (${e.message})`,
                }),
            ),
          )
      }
      const sealed = encryptImage(bytes, key)
      const url = yield* deps.upload(conversationId, sealed.ciphertext)
      const ref: StoredImageRef = {
        url,
        salt: Buffer.from(sealed.salt).toString("base64"),
        nonce: Buffer.from(sealed.nonce).toString("base64"),
        sha256: avatar.sha256,
      }
      const now = deps.state()
      yield* deps.save({ ...now, avatarRefs: { ...now.avatarRefs, [conversationId]: ref } })
      return { url, salt: sealed.salt, nonce: sealed.nonce } satisfies EncryptedImageRef
    })

  /**
   * The agent's ProfileUpdate for that conversation, and why its picture is not in it when it should be. A conversation
   * where the picture cannot be placed (the agent may not write the group's metadata, the upload failed) gets the name
   * only, so a failed picture never holds back a new name.
   */
  const placeProfile = (
    client: MessagingClient,
    conversationId: string,
    name: string,
  ): Effect.Effect<{ readonly content: OutgoingContent; readonly miss: AvatarMiss | null }> =>
    refFor(client, conversationId).pipe(
      Effect.map((ref) => ({ content: profileUpdateContent(name, "agent", ref), miss: null })),
      Effect.catchCause((cause) =>
        Effect.gen(function* () {
          yield* Effect.logWarning(`profile picture for conversation ${conversationId} not placed`, cause)
          const failure = cause.reasons.find((r) => r._tag === "Fail") as { error?: unknown } | undefined
          const e = failure?.error
          const miss =
            e instanceof AvatarMiss
              ? e
              : new AvatarMiss({
                  conversationId,
                  reason: "unavailable",
                  message:
                    (e as { message?: unknown } | undefined)?.message?.toString() ??
                    `placing it in conversation ${conversationId} failed`,
                })
          return { content: profileUpdateContent(name, "agent", null), miss }
        }),
      ),
    )

  /** The ProfileUpdate alone (joins, greetings): a missing picture was logged and the name goes out without it. */
  const profileFor = (client: MessagingClient, conversationId: string, name: string): Effect.Effect<OutgoingContent> =>
    placeProfile(client, conversationId, name).pipe(Effect.map((p) => p.content))

  /**
   * Sends the agent's profile (a ProfileUpdate replaces the whole profile, so each carries name and picture) to every
   * conversation given, and counts the ones the picture missed. A conversation without a client (its own identity did
   * not reconnect) is a miss; a failed send is one too.
   */
  const spreadProfile = (
    targets: ReadonlyArray<{ readonly conversationId: string; readonly client: MessagingClient | null }>,
    name: string,
  ) =>
    Effect.gen(function* () {
      const misses: Array<AvatarMiss> = []
      for (const { conversationId, client } of targets) {
        if (!client) {
          misses.push(
            new AvatarMiss({
              conversationId,
              reason: "unavailable",
              message: `conversation ${conversationId}'s own identity did not reconnect at start (see the agent's log)`,
            }),
          )
          continue
        }
        const { content, miss } = yield* placeProfile(client, conversationId, name)
        const sent = yield* Effect.result(client.send(conversationId, content))
        if (miss) misses.push(miss)
        else if (sent._tag === "Failure")
          misses.push(
            new AvatarMiss({
              conversationId,
              reason: "unavailable",
              message: `sending the profile failed (${sent.failure.message})`,
            }),
          )
      }
      return { total: targets.length, misses }
    })

  return { setImage, refFor, placeProfile, profileFor, spreadProfile }
}
