import { secp256k1 } from "@noble/curves/secp256k1.js"
import { keccak_256 } from "@noble/hashes/sha3.js"
import { bytesToHex } from "@noble/hashes/utils.js"

/** Ethereum address of a secp256k1 private key: last 20 bytes of keccak256(uncompressed pubkey without 0x04). */
export const addressOf = (privateKey: Uint8Array): string =>
  `0x${bytesToHex(keccak_256(secp256k1.getPublicKey(privateKey, false).slice(1)).slice(-20))}`

/** A fresh private key (0x + 64 hex) and its address. */
export const newEvmKey = (): { readonly privateKey: string; readonly address: string } => {
  const key = secp256k1.utils.randomSecretKey()
  return { privateKey: `0x${bytesToHex(key)}`, address: addressOf(key) }
}
