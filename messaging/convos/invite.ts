// Convos invites, compatible with the Convos apps (see shared research §4): a slug is base64url(SignedInvite),
// written uncompressed (every reader accepts it), read raw-DEFLATE or zlib when marked compressed (0x1F), with a `*`
// every 300 characters. The conversation id inside is encrypted so only the creator can read it, and the payload is
// signed with the creator's secp256k1 key (SHA-256, recoverable r||s||recid).
import { randomBytes } from "node:crypto"
import { inflateRawSync, inflateSync } from "node:zlib"
import { chacha20poly1305 } from "@noble/ciphers/chacha.js"
import { secp256k1 } from "@noble/curves/secp256k1.js"
import { hkdf } from "@noble/hashes/hkdf.js"
import { sha256 } from "@noble/hashes/sha2.js"
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js"
import { addressFromPublicKey, identityFromPrivateKey } from "../identity.ts"
import type { MessagingIdentity } from "../Messaging.ts"
import { InviteError } from "./errors.ts"
import { ProtoWriter, protoBytes, protoInt, protoString, readProto } from "./proto.ts"

export interface InvitePayload {
  readonly conversationToken: Uint8Array
  readonly creatorInboxId: string
  /** 10 chars [a-zA-Z0-9]; equals the group's appData tag. */
  readonly tag: string
  readonly name?: string
  readonly description?: string
  readonly imageUrl?: string
  /** Unix seconds */
  readonly conversationExpiresAt?: number
  /** Unix seconds */
  readonly expiresAt?: number
  readonly expiresAfterUse: boolean
  readonly emoji?: string
}

export interface ParsedInvite {
  readonly slug: string
  readonly payload: InvitePayload
  /** Exact signed bytes (never re-serialized). */
  readonly payloadBytes: Uint8Array
  readonly signature: Uint8Array
  /** Address of the key that signed it (recovered from the signature). */
  readonly signerAddress: string
}

const fail = (reason: InviteError["reason"], message: string) => new InviteError({ reason, message })

export const randomTag = (): string => {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
  return Array.from(randomBytes(10), (b) => alphabet[b % alphabet.length]).join("")
}

// --- conversation token -------------------------------------------------------------------------------------------

const tokenKey = (privateKey: string, creatorInboxId: string) =>
  hkdf(
    sha256,
    hexToBytes(privateKey.replace(/^0x/, "")),
    new TextEncoder().encode("ConvosInviteV1"),
    new TextEncoder().encode(`inbox:${creatorInboxId}`),
    32,
  )

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export const encryptConversationId = (
  privateKey: string,
  creatorInboxId: string,
  conversationId: string,
): Uint8Array => {
  let plain: Uint8Array
  if (UUID.test(conversationId)) plain = Uint8Array.from([0x01, ...hexToBytes(conversationId.replace(/-/g, ""))])
  else {
    const utf8 = new TextEncoder().encode(conversationId)
    plain =
      utf8.length <= 255
        ? Uint8Array.from([0x02, utf8.length, ...utf8])
        : Uint8Array.from([0x02, 0x00, utf8.length >> 8, utf8.length & 0xff, ...utf8])
  }
  const nonce = randomBytes(12)
  const sealed = chacha20poly1305(
    tokenKey(privateKey, creatorInboxId),
    nonce,
    new TextEncoder().encode(creatorInboxId),
  ).encrypt(plain)
  return Uint8Array.from([0x01, ...nonce, ...sealed])
}

export const decryptConversationId = (privateKey: string, creatorInboxId: string, token: Uint8Array): string => {
  if (token.length < 1 + 12 + 16 || token[0] !== 0x01)
    throw fail("undecryptable", "The invite's conversation token has an unknown format.")
  let plain: Uint8Array
  try {
    plain = chacha20poly1305(
      tokenKey(privateKey, creatorInboxId),
      token.subarray(1, 13),
      new TextEncoder().encode(creatorInboxId),
    ).decrypt(token.subarray(13))
  } catch {
    throw fail(
      "undecryptable",
      "This invite was not made with this identity's key (its conversation token does not decrypt).",
    )
  }
  if (plain[0] === 0x01 && plain.length === 17) {
    const h = bytesToHex(plain.subarray(1))
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
  }
  if (plain[0] === 0x02) {
    if (plain[1] !== 0) return new TextDecoder().decode(plain.subarray(2, 2 + plain[1]!))
    const len = (plain[2]! << 8) | plain[3]!
    return new TextDecoder().decode(plain.subarray(4, 4 + len))
  }
  throw fail("undecryptable", "The invite's conversation token holds an unknown id format.")
}

// --- payload and signature ----------------------------------------------------------------------------------------

export const encodePayload = (p: InvitePayload): Uint8Array =>
  new ProtoWriter()
    .bytes(1, p.conversationToken)
    .bytes(2, hexToBytes(p.creatorInboxId))
    .string(3, p.tag)
    .string(4, p.name)
    .string(5, p.description)
    .string(6, p.imageUrl)
    .sfixed64(7, p.conversationExpiresAt)
    .sfixed64(8, p.expiresAt)
    .bool(9, p.expiresAfterUse)
    .string(10, p.emoji)
    .finish()

export const decodePayload = (bytes: Uint8Array): InvitePayload => {
  const f = readProto(bytes)
  const token = protoBytes(f, 1)
  const creator = protoBytes(f, 2)
  const tag = protoString(f, 3)
  if (!token || !creator || creator.length !== 32 || !tag) throw new Error("missing required invite fields")
  const name = protoString(f, 4)
  const description = protoString(f, 5)
  const imageUrl = protoString(f, 6)
  const conversationExpiresAt = protoInt(f, 7)
  const expiresAt = protoInt(f, 8)
  const emoji = protoString(f, 10)
  return {
    conversationToken: token,
    creatorInboxId: bytesToHex(creator),
    tag,
    ...(name !== undefined ? { name } : {}),
    ...(description !== undefined ? { description } : {}),
    ...(imageUrl !== undefined ? { imageUrl } : {}),
    ...(conversationExpiresAt !== undefined ? { conversationExpiresAt } : {}),
    ...(expiresAt !== undefined ? { expiresAt } : {}),
    expiresAfterUse: protoInt(f, 9) === 1,
    ...(emoji !== undefined ? { emoji } : {}),
  }
}

const signPayload = (privateKey: string, payloadBytes: Uint8Array): Uint8Array => {
  const recovered = secp256k1.sign(sha256(payloadBytes), hexToBytes(privateKey.replace(/^0x/, "")), {
    prehash: false,
    format: "recovered",
  })
  // noble: recid || r || s; Convos: r || s || recid
  return Uint8Array.from([...recovered.subarray(1), recovered[0]!])
}

const recoverSigner = (payloadBytes: Uint8Array, signature: Uint8Array): string => {
  if (signature.length !== 65 || signature[64]! > 3) throw fail("bad-signature", "The invite's signature is malformed.")
  try {
    const nobleOrder = Uint8Array.from([signature[64]!, ...signature.subarray(0, 64)])
    return addressFromPublicKey(secp256k1.recoverPublicKey(nobleOrder, sha256(payloadBytes), { prehash: false }))
  } catch {
    throw fail("bad-signature", "The invite's signature does not verify: it was altered or is not a Convos invite.")
  }
}

// --- slug ---------------------------------------------------------------------------------------------------------

const toBase64Url = (b: Uint8Array) => Buffer.from(b).toString("base64url")

export const encodeSlug = (payloadBytes: Uint8Array, signature: Uint8Array): string => {
  const raw = toBase64Url(new ProtoWriter().bytes(1, payloadBytes).bytes(2, signature).finish())
  return raw.replace(/(.{300})(?=.)/g, "$1*")
}

/** Limits on what a compressed slug or appData may inflate to (the Convos iOS decoder's): 1 MiB, and at most 100× its compressed size. */
export const MAX_INFLATED_BYTES = 1 << 20
export const MAX_INFLATE_RATIO = 100

/**
 * Inflates `0x1F || uint32BE(size) || DEFLATE` (raw, as iOS writes; zlib-wrapped, as convos-cli writes), refusing
 * declared sizes over the limits and never producing more than the declared size (zlib's maxOutputLength), so a
 * crafted "bomb" that lies about its size costs at most that much memory.
 */
export const inflateMarked = (bytes: Uint8Array, what: string): Uint8Array => {
  if (bytes.length < 6) throw fail("malformed", `The ${what} is compressed but truncated.`)
  const declared = new DataView(bytes.buffer, bytes.byteOffset + 1, 4).getUint32(0)
  const body = bytes.subarray(5)
  const tooLarge = () =>
    fail(
      "too-large",
      `The ${what} inflates to more than allowed (at most ${MAX_INFLATED_BYTES} bytes and ${MAX_INFLATE_RATIO}× its compressed size); refusing it.`,
    )
  if (declared > MAX_INFLATED_BYTES || declared > body.length * MAX_INFLATE_RATIO) throw tooLarge()
  const isTooLarge = (e: unknown) =>
    (e as { code?: string })?.code === "ERR_BUFFER_TOO_LARGE" || e instanceof RangeError
  let out: Buffer
  try {
    out = inflateRawSync(body, { maxOutputLength: Math.max(declared, 1) }) // iOS: Apple COMPRESSION_ZLIB = raw DEFLATE
  } catch (raw) {
    if (isTooLarge(raw)) throw tooLarge()
    try {
      out = inflateSync(body, { maxOutputLength: Math.max(declared, 1) }) // convos-cli: zlib-wrapped
    } catch (wrapped) {
      if (isTooLarge(wrapped)) throw tooLarge()
      throw fail("malformed", `The ${what} is marked compressed but does not inflate.`)
    }
  }
  return new Uint8Array(out)
}

const decodeSlugBytes = (slug: string): Uint8Array => {
  const clean = slug.replace(/\*/g, "")
  // A "%" left in a code is a percent-escape that did not decode (e.g. `%E0%A4%A`, see decodePathSegment).
  if (clean.includes("%")) {
    throw fail(
      "malformed",
      "That invite link is damaged (it has a broken %-escape); copy the whole link again from Convos (Share → Copy link).",
    )
  }
  if (!/^[A-Za-z0-9_-]+$/.test(clean)) throw fail("not-an-invite", "That is not a Convos invite code.")
  const bytes = new Uint8Array(Buffer.from(clean, "base64url"))
  return bytes[0] === 0x1f ? inflateMarked(bytes, "invite") : bytes
}

// --- URLs ---------------------------------------------------------------------------------------------------------

export const inviteUrlBase = (network: "devnet" | "dev" | "production", override?: string): string =>
  override ?? (network === "production" ? "https://popup.convos.org/v2?i=" : "https://dev.convos.org/v2?i=")

/** The invite code inside any URL form the Convos apps accept (or a bare code). */
export const extractInviteCode = (input: string): string | null => {
  const text = input.trim()
  if (/^[A-Za-z0-9_*-]{50,}$/.test(text)) return text
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return null
  }
  const fromQuery = url.searchParams.get("i") ?? url.searchParams.get("code")
  if (fromQuery) return fromQuery
  const path = `${url.host}${url.pathname}`.split("/").filter(Boolean)
  const i = path.findIndex((p) => p === "i" || p === "invite" || p === "join")
  if (i >= 0 && path[i + 1]) return decodePathSegment(path[i + 1]!)
  return null
}

/**
 * decodeURIComponent throws URIError on a bad escape such as `%E0%A4%A`; an invite decoder must never throw anything
 * but InviteError, so the segment is kept as typed and decodeSlugBytes reports it as "malformed".
 */
const decodePathSegment = (segment: string): string => {
  try {
    return decodeURIComponent(segment)
  } catch {
    return segment
  }
}

// --- create / parse -----------------------------------------------------------------------------------------------

export interface CreateInviteOptions {
  readonly conversationId: string
  readonly tag: string
  readonly name?: string
  readonly description?: string
  readonly emoji?: string
  readonly expiresAt?: Date
  readonly conversationExpiresAt?: Date
  readonly singleUse?: boolean
}

export const createInviteSlug = (creator: MessagingIdentity, o: CreateInviteOptions): string => {
  const payload: InvitePayload = {
    conversationToken: encryptConversationId(creator.privateKey, creator.inboxId, o.conversationId),
    creatorInboxId: creator.inboxId,
    tag: o.tag,
    ...(o.name ? { name: o.name } : {}),
    ...(o.description ? { description: o.description } : {}),
    ...(o.emoji ? { emoji: o.emoji } : {}),
    ...(o.expiresAt ? { expiresAt: Math.floor(o.expiresAt.getTime() / 1000) } : {}),
    ...(o.conversationExpiresAt ? { conversationExpiresAt: Math.floor(o.conversationExpiresAt.getTime() / 1000) } : {}),
    expiresAfterUse: o.singleUse ?? false,
  }
  const bytes = encodePayload(payload)
  return encodeSlug(bytes, signPayload(creator.privateKey, bytes))
}

/** Decodes an invite and recovers its signer, without the expiry checks (the creator needs the tag of an expired invite to answer it). */
export const decodeInvite = (input: string): ParsedInvite => {
  const slug = extractInviteCode(input)
  if (!slug)
    throw fail(
      "not-an-invite",
      "That is not a Convos invite link. Copy the whole link from Convos (Share → Copy link).",
    )
  let payloadBytes: Uint8Array
  let signature: Uint8Array
  let payload: InvitePayload
  try {
    const outer = readProto(decodeSlugBytes(slug))
    payloadBytes = protoBytes(outer, 1) ?? new Uint8Array()
    signature = protoBytes(outer, 2) ?? new Uint8Array()
    payload = decodePayload(payloadBytes)
  } catch (e) {
    if (e instanceof InviteError) throw e
    throw fail("malformed", "That invite link is damaged or incomplete; copy it again from Convos.")
  }
  const signerAddress = recoverSigner(payloadBytes, signature)
  return { slug, payload, payloadBytes, signature, signerAddress }
}

/** Throws `expired` / `conversation-expired` when the invite or its conversation has expired at `now`. */
export const checkInviteExpiry = (invite: ParsedInvite, now: Date = new Date()): void => {
  const { payload } = invite
  const nowSec = now.getTime() / 1000
  if (payload.expiresAt !== undefined && payload.expiresAt > 0 && payload.expiresAt < nowSec) {
    throw fail("expired", "This invite has expired; ask for a new one.")
  }
  if (
    payload.conversationExpiresAt !== undefined &&
    payload.conversationExpiresAt > 0 &&
    payload.conversationExpiresAt < nowSec
  ) {
    throw fail("conversation-expired", "The conversation of this invite has ended.")
  }
}

/** Parses and checks what a joiner can check: structure, a recoverable signature, expiry. */
export const parseInvite = (input: string, now: Date = new Date()): ParsedInvite => {
  const invite = decodeInvite(input)
  checkInviteExpiry(invite, now)
  return invite
}

/** The creator's check: signed by my key, for my inbox, and the token decrypts. Returns the conversation id. */
export const verifyOwnInvite = (me: MessagingIdentity, invite: ParsedInvite): string => {
  if (invite.payload.creatorInboxId !== me.inboxId) throw fail("wrong-creator", "This invite was made by someone else.")
  if (invite.signerAddress !== identityFromPrivateKey(me.privateKey).address) {
    throw fail("bad-signature", "This invite claims to be mine but is not signed with my key.")
  }
  return decryptConversationId(me.privateKey, me.inboxId, invite.payload.conversationToken)
}
