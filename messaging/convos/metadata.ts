// Group appData = ConversationCustomMetadata (Convos keeps the invite tag here): base64url of the protobuf, compressed
// (0x1F || uint32BE size || raw DEFLATE) when that is smaller and the message is over 100 bytes. Legacy JSON is read too.
import { deflateRawSync } from "node:zlib"
import { inflateMarked } from "./invite.ts"
import { ProtoWriter, protoInt, protoString, readProto } from "./proto.ts"

export interface ConversationMetadata {
  readonly tag: string
  readonly emoji?: string
  /** Unix seconds */
  readonly expiresAt?: number
}

export const encodeMetadata = (m: ConversationMetadata): string => {
  const raw = new ProtoWriter().string(1, m.tag).sfixed64(3, m.expiresAt).string(6, m.emoji).finish()
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

/** The metadata of a group's appData, or null when it has none we can read (including compressed data over the size limits). */
export const decodeMetadata = (appData: string | null | undefined): ConversationMetadata | null => {
  if (!appData) return null
  try {
    const json = JSON.parse(appData) as { tag?: unknown }
    if (typeof json.tag === "string") return { tag: json.tag }
  } catch {}
  try {
    let bytes: Uint8Array = new Uint8Array(Buffer.from(appData, "base64url"))
    // Capped like invites (1 MiB, ratio ≤ 100): a crafted appData must not make every reader inflate a bomb.
    if (bytes[0] === 0x1f) bytes = inflateMarked(bytes, "group metadata")
    const f = readProto(bytes)
    const tag = protoString(f, 1)
    if (!tag) return null
    const emoji = protoString(f, 6)
    const expiresAt = protoInt(f, 3)
    return { tag, ...(emoji !== undefined ? { emoji } : {}), ...(expiresAt !== undefined ? { expiresAt } : {}) }
  } catch {
    return null
  }
}
