// Convos content types (authority convos.org, v1.0) as raw bytes over the Messaging port.
import type { ChatMessage, ContentType, OutgoingContent } from "../Messaging.ts"
import { decodeImageRef, type EncryptedImageRef, encodeImageRef } from "./profileImage.ts"
import { ProtoWriter, protoBytes, protoInt, protoString, readProto } from "./proto.ts"

const convos = (typeId: string): ContentType => ({
  authorityId: "convos.org",
  typeId,
  versionMajor: 1,
  versionMinor: 0,
})
export const JoinRequestType = convos("join_request")
export const InviteJoinErrorType = convos("invite_join_error")
export const InviteJoinHandledType = convos("invite_join_handled")
export const ProfileUpdateType = convos("profile_update")

export const isType = (m: Pick<ChatMessage, "contentType">, t: ContentType) =>
  m.contentType.authorityId === t.authorityId &&
  m.contentType.typeId === t.typeId &&
  m.contentType.versionMajor === t.versionMajor

export interface JoinRequest {
  readonly inviteSlug: string
  readonly profile?: { readonly name?: string; readonly imageURL?: string; readonly memberKind?: "agent" | "human" }
  readonly metadata?: Readonly<Record<string, string>>
}

export type JoinErrorType =
  | "conversation_expired"
  | "conversation_not_found"
  | "consent_not_allowed"
  | "generic_failure"
export interface InviteJoinError {
  readonly errorType: JoinErrorType
  readonly inviteTag: string
  readonly timestamp: string
  readonly reason?: string
}

const json = (type: ContentType, value: unknown, fallback: string, shouldPush: boolean): OutgoingContent => ({
  contentType: type,
  content: new TextEncoder().encode(JSON.stringify(value)),
  fallback,
  shouldPush,
})

const parseJson = <A>(m: ChatMessage): A | null => {
  try {
    return JSON.parse(new TextDecoder().decode(m.content)) as A
  } catch {
    return null
  }
}

export const joinRequestContent = (r: JoinRequest): OutgoingContent => json(JoinRequestType, r, r.inviteSlug, true)
export const readJoinRequest = (m: ChatMessage): JoinRequest | null => {
  const r = parseJson<JoinRequest>(m)
  return r && typeof r.inviteSlug === "string" ? r : null
}

export const joinErrorContent = (e: InviteJoinError): OutgoingContent =>
  json(InviteJoinErrorType, e, `Could not join: ${e.reason ?? e.errorType.replace(/_/g, " ")}`, true)
export const readJoinError = (m: ChatMessage): InviteJoinError | null => {
  const e = parseJson<InviteJoinError>(m)
  return e && typeof e.errorType === "string" ? e : null
}

export const joinHandledContent = (inviteTag: string, handledMessageId: string): OutgoingContent =>
  json(InviteJoinHandledType, { inviteTag, handledMessageId, timestamp: new Date().toISOString() }, "", false)

/**
 * ProfileUpdate { optional string name = 1; optional EncryptedProfileImageRef encrypted_image = 2;
 * MemberKind member_kind = 3 } (AGENT = 1). A ProfileUpdate replaces the sender's whole profile in that conversation,
 * so a rename must carry the image again (or it is cleared).
 */
export const profileUpdateContent = (
  name: string,
  kind: "agent" | "human",
  image?: EncryptedImageRef | null,
): OutgoingContent => ({
  contentType: ProfileUpdateType,
  content: new ProtoWriter()
    .string(1, name)
    .bytes(2, image ? encodeImageRef(image) : undefined)
    .enumValue(3, kind === "agent" ? 1 : 0)
    .finish(),
  shouldPush: false,
})

export interface ProfileUpdate {
  readonly name: string | null
  readonly kind: "agent" | "human"
  /** The encrypted profile image's reference (profileImage.ts), null when the profile has none. */
  readonly image: EncryptedImageRef | null
}

export const readProfileUpdate = (m: ChatMessage): ProfileUpdate | null => {
  if (!isType(m, ProfileUpdateType)) return null
  try {
    const f = readProto(m.content)
    const image = protoBytes(f, 2)
    return {
      name: protoString(f, 1) ?? null,
      kind: protoInt(f, 3) === 1 ? "agent" : "human",
      image: image ? decodeImageRef(image) : null,
    }
  } catch {
    return null
  }
}

/** Each sender's latest profile_update in these messages (what Convos shows for them in that conversation). */
export const latestProfiles = (messages: ReadonlyArray<ChatMessage>): Map<string, ProfileUpdate> => {
  const profiles = new Map<string, ProfileUpdate>()
  for (const m of messages) {
    const p = readProfileUpdate(m)
    if (p) profiles.set(m.senderInboxId, p)
  }
  return profiles
}

/**
 * Display names from a conversation's messages: the latest profile_update of each sender (a profile update only
 * ever names its own sender, so nobody can rename someone else).
 */
export const displayNames = (messages: ReadonlyArray<ChatMessage>): Map<string, string> => {
  const names = new Map<string, string>()
  for (const m of messages) {
    const p = readProfileUpdate(m)
    if (!p) continue
    if (p.name) names.set(m.senderInboxId, p.name)
    else names.delete(m.senderInboxId)
  }
  return names
}

export const shortInboxId = (inboxId: string) => `${inboxId.slice(0, 6)}…`
