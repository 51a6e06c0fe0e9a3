// Group appData = ConversationCustomMetadata (Convos keeps the invite tag here): base64url of the protobuf, compressed
// (0x1F || uint32BE size || raw DEFLATE) when that is smaller and the message is over 100 bytes. Legacy JSON is read too.
//   message ConversationCustomMetadata { string tag = 1; repeated ConversationProfile profiles = 2;
//     optional sfixed64 expiresAtUnix = 3; optional bytes imageEncryptionKey = 4;
//     optional EncryptedImageRef encryptedGroupImage = 5; optional string emoji = 6; … agentDm = 8 }
import { deflateRawSync } from "node:zlib"
import { inflateMarked } from "./invite.ts"
import { type ProtoValue, ProtoWriter, protoBytes, protoInt, protoString, readProto } from "./proto.ts"

export interface ConversationMetadata {
  readonly tag: string
  readonly emoji?: string
  /** Unix seconds */
  readonly expiresAt?: number
  /** The group's key for encrypted images (profile pictures, group image): 32 bytes (profileImage.ts). */
  readonly imageEncryptionKey?: Uint8Array
}

const pack = (raw: Uint8Array): string => {
  if (raw.length > 100) {
    const packed = deflateRawSync(raw)
    if (packed.length + 5 < raw.length) {
      const out = new Uint8Array(5 + packed.length)
      out[0] = 0x1f
      new DataView(out.buffer).setUint32(1, raw.length)
      out.set(packed, 5)
      return Buffer.from(out).toString("base64url")
    }
  }
  return Buffer.from(raw).toString("base64url")
}

export const encodeMetadata = (m: ConversationMetadata): string =>
  pack(
    new ProtoWriter()
      .string(1, m.tag)
      .sfixed64(3, m.expiresAt)
      .bytes(4, m.imageEncryptionKey)
      .string(6, m.emoji)
      .finish(),
  )

/** The raw protobuf fields of a group's appData (null when it is not protobuf metadata, e.g. legacy JSON). */
const rawFields = (appData: string): Map<number, ProtoValue[]> | null => {
  try {
    let bytes: Uint8Array = new Uint8Array(Buffer.from(appData, "base64url"))
    // Capped like invites (1 MiB, ratio ≤ 100): a crafted appData must not make every reader inflate a bomb.
    if (bytes[0] === 0x1f) bytes = inflateMarked(bytes, "group metadata")
    return readProto(bytes)
  } catch {
    return null
  }
}

const legacyJsonTag = (appData: string): string | null => {
  try {
    const json = JSON.parse(appData) as { tag?: unknown }
    return typeof json.tag === "string" ? json.tag : null
  } catch {
    return null
  }
}

/** The metadata of a group's appData, or null when it has none we can read (including compressed data over the size limits). */
export const decodeMetadata = (appData: string | null | undefined): ConversationMetadata | null => {
  if (!appData) return null
  const legacyTag = legacyJsonTag(appData)
  if (legacyTag !== null) return { tag: legacyTag }
  const f = rawFields(appData)
  if (!f) return null
  try {
    const tag = protoString(f, 1)
    if (!tag) return null
    const emoji = protoString(f, 6)
    const expiresAt = protoInt(f, 3)
    const key = protoBytes(f, 4)
    return {
      tag,
      ...(emoji !== undefined ? { emoji } : {}),
      ...(expiresAt !== undefined ? { expiresAt } : {}),
      ...(key?.length ? { imageEncryptionKey: Uint8Array.from(key) } : {}),
    }
  } catch {
    return null
  }
}

/**
 * Read-modify-write of a group's appData that keeps every field it does not change (members' profiles, the group
 * image, markers other clients add): only `tag` and `imageEncryptionKey` are replaced when given. Legacy JSON or
 * empty appData becomes protobuf with just the given fields (plus a legacy JSON tag).
 */
export const updateMetadata = (
  appData: string | null | undefined,
  change: { readonly tag?: string; readonly imageEncryptionKey?: Uint8Array },
): string => {
  const legacyTag = appData ? legacyJsonTag(appData) : null
  const fields = (legacyTag === null && appData && rawFields(appData)) || new Map<number, ProtoValue[]>()
  if (legacyTag !== null) fields.set(1, [{ wire: 2, value: new TextEncoder().encode(legacyTag) }])
  if (change.tag !== undefined) fields.set(1, [{ wire: 2, value: new TextEncoder().encode(change.tag) }])
  if (change.imageEncryptionKey !== undefined) fields.set(4, [{ wire: 2, value: change.imageEncryptionKey }])
  const w = new ProtoWriter()
  for (const n of [...fields.keys()].sort((a, b) => a - b)) for (const v of fields.get(n)!) w.value(n, v)
  return pack(w.finish())
}
