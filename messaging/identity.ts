// secp256k1 identities as XMTP derives them: address = last 20 bytes of keccak256(uncompressed pubkey without the 0x04
// prefix), inbox id = sha256(lowercase address + "1") (nonce 1, the node-sdk default). The same key signs Convos invites.
import { secp256k1 } from "@noble/curves/secp256k1.js"
import { keccak_256 } from "@noble/hashes/sha3.js"
import { sha256 } from "@noble/hashes/sha2.js"
import { bytesToHex, hexToBytes, utf8ToBytes } from "@noble/hashes/utils.js"
import type { InboxId, MessagingIdentity } from "./Messaging.ts"

const strip0x = (hex: string): string => (hex.startsWith("0x") || hex.startsWith("0X") ? hex.slice(2) : hex)

/** Lowercase 0x address of an uncompressed (65-byte) or compressed (33-byte) secp256k1 public key. */
export const addressFromPublicKey = (publicKey: Uint8Array): string => {
  const uncompressed = publicKey.length === 65 ? publicKey : secp256k1.Point.fromBytes(publicKey).toBytes(false)
  return `0x${bytesToHex(keccak_256(uncompressed.subarray(1)).subarray(12))}`
}

/** XMTP inbox id of an Ethereum address with nonce 1: sha256(lowercase address + "1") as hex. */
export const inboxIdFromAddress = (address: string, nonce = 1): InboxId =>
  bytesToHex(sha256(utf8ToBytes(`${address.toLowerCase()}${nonce}`)))

export const identityFromPrivateKey = (privateKey: string): MessagingIdentity => {
  const hex = strip0x(privateKey).toLowerCase()
  if (!/^[0-9a-f]{64}$/.test(hex))
    throw new Error("A messaging private key must be 32 bytes of hex (64 hex digits, optional 0x prefix).")
  const secret = hexToBytes(hex)
  if (!secp256k1.utils.isValidSecretKey(secret))
    throw new Error("The messaging private key is not a valid secp256k1 key; generate a new one.")
  const address = addressFromPublicKey(secp256k1.getPublicKey(secret, false))
  return { privateKey: `0x${hex}`, address, inboxId: inboxIdFromAddress(address) }
}

export const generateIdentity = (): MessagingIdentity =>
  identityFromPrivateKey(bytesToHex(secp256k1.utils.randomSecretKey()))

/** 65-byte r||s||recid signature over sha256(message) – the recoverable form the devnet challenge and Convos invites use. */
export const signRecoverable = (identity: MessagingIdentity, message: Uint8Array): Uint8Array => {
  const recovered = secp256k1.sign(sha256(message), hexToBytes(strip0x(identity.privateKey)), {
    prehash: false,
    format: "recovered",
  })
  // noble's "recovered" format is recid||r||s; XMTP/Convos use r||s||recid.
  const out = new Uint8Array(65)
  out.set(recovered.subarray(1), 0)
  out[64] = recovered[0]!
  return out
}

/** Address of the key that produced `signature` (r||s||recid) over sha256(message); throws on a malformed signature. */
export const recoverAddress = (message: Uint8Array, signature: Uint8Array): string => {
  if (signature.length !== 65) throw new Error("A recoverable signature is 65 bytes (r||s||recid).")
  const recid = signature[64]! >= 27 ? signature[64]! - 27 : signature[64]!
  const nobleForm = new Uint8Array(65)
  nobleForm[0] = recid
  nobleForm.set(signature.subarray(0, 64), 1)
  const publicKey = secp256k1.recoverPublicKey(nobleForm, sha256(message), { prehash: false })
  return addressFromPublicKey(publicKey)
}

export const randomHex = (bytes: number): string => bytesToHex(crypto.getRandomValues(new Uint8Array(bytes)))
