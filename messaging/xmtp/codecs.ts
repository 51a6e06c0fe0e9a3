// Small pieces the XMTP adapter needs, kept free of runtime imports of @xmtp/node-sdk (types only).
import { secp256k1 } from "@noble/curves/secp256k1.js"
import { hkdf } from "@noble/hashes/hkdf.js"
import { sha256 } from "@noble/hashes/sha2.js"
import { keccak_256 } from "@noble/hashes/sha3.js"
import { hexToBytes, utf8ToBytes } from "@noble/hashes/utils.js"
import type { Signer } from "@xmtp/node-sdk"
import type { ContentType, MessagingIdentity } from "../Messaging.ts"

export const sameType = (a: ContentType, b: ContentType): boolean =>
  a.authorityId === b.authorityId && a.typeId === b.typeId && a.versionMajor === b.versionMajor

const convos = (typeId: string): ContentType => ({
  authorityId: "convos.org",
  typeId,
  versionMajor: 1,
  versionMinor: 0,
})

/**
 * Custom types whose raw bytes the port passes through. node-sdk only hands out custom content for types with a
 * registered codec, so each gets a passthrough codec (decode = the EncodedContent itself). Add new Convos types here.
 */
export const KNOWN_CUSTOM_TYPES: ReadonlyArray<ContentType> = [
  "join_request",
  "invite_join_error",
  "invite_join_handled",
  "profile_update",
  "profile_snapshot",
  "typing_indicator",
  "explode_settings",
  "thinking",
  "assistant_join_request",
  "agent_join_request",
].map(convos)

interface Encoded {
  type?: ContentType
  parameters: Record<string, string>
  fallback?: string
  content: Uint8Array
}

export class PassthroughCodec {
  constructor(readonly contentType: ContentType) {}
  encode(content: Encoded): Encoded {
    return content
  }
  decode(content: Encoded): Encoded {
    return content
  }
  fallback(content: Encoded): string | undefined {
    return content.fallback
  }
  shouldPush(): boolean {
    return false
  }
}

const strip0x = (h: string) => h.replace(/^0x/i, "")

/**
 * The local database key when none is configured: derived from the identity key, so the same identity reopens its
 * database after a restart without storing a second secret.
 */
export const dbKeyFor = (identity: MessagingIdentity): Uint8Array =>
  hkdf(
    sha256,
    hexToBytes(strip0x(identity.privateKey)),
    utf8ToBytes("convos-agents"),
    utf8ToBytes("xmtp-db-encryption-key"),
    32,
  )

/** EOA signer: EIP-191 personal_sign over the text XMTP asks for, as r||s||v (v = 27/28). */
export const eoaSigner = (identity: MessagingIdentity): Signer => ({
  type: "EOA",
  getIdentifier: () => ({ identifier: identity.address, identifierKind: 0 as never }),
  signMessage: (message: string) => {
    const body = utf8ToBytes(message)
    const digest = keccak_256(new Uint8Array([...utf8ToBytes(`\x19Ethereum Signed Message:\n${body.length}`), ...body]))
    const rec = secp256k1.sign(digest, hexToBytes(strip0x(identity.privateKey)), {
      prehash: false,
      format: "recovered",
    })
    const out = new Uint8Array(65)
    out.set(rec.subarray(1), 0)
    out[64] = rec[0]! + 27
    return out
  },
})
