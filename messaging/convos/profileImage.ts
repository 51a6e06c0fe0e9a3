// Convos encrypted profile images (convos-ios ImageEncryption.swift, ADR 009; convos-cli utils/imageEncryption.ts):
// each group holds one 32-byte key in its appData (ConversationCustomMetadata.imageEncryptionKey, field 4). An image
// is encrypted with AES-256-GCM under HKDF-SHA256(ikm = group key, salt = 32 random bytes, info = "ConvosImageV1",
// 32 bytes), nonce 12 random bytes; the ciphertext (with its 16-byte GCM tag appended, nonce NOT prepended) is
// uploaded anywhere members can download it, and the member's ProfileUpdate carries { url, salt, nonce }.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto"
import { ProtoWriter, protoBytes, protoString, readProto } from "./proto.ts"

const INFO = "ConvosImageV1"
export const IMAGE_SALT_BYTES = 32
export const IMAGE_NONCE_BYTES = 12
export const IMAGE_KEY_BYTES = 32

/** EncryptedProfileImageRef { string url = 1; bytes salt = 2; bytes nonce = 3; } */
export interface EncryptedImageRef {
  readonly url: string
  readonly salt: Uint8Array
  readonly nonce: Uint8Array
}

export const generateImageKey = (): Uint8Array => new Uint8Array(randomBytes(IMAGE_KEY_BYTES))

const imageKey = (groupKey: Uint8Array, salt: Uint8Array) => {
  if (groupKey.length !== IMAGE_KEY_BYTES) throw new Error(`image key must be ${IMAGE_KEY_BYTES} bytes`)
  return Buffer.from(hkdfSync("sha256", groupKey, salt, INFO, 32))
}

export const encryptImage = (
  image: Uint8Array,
  groupKey: Uint8Array,
): { readonly ciphertext: Uint8Array; readonly salt: Uint8Array; readonly nonce: Uint8Array } => {
  const salt = new Uint8Array(randomBytes(IMAGE_SALT_BYTES))
  const nonce = new Uint8Array(randomBytes(IMAGE_NONCE_BYTES))
  const cipher = createCipheriv("aes-256-gcm", imageKey(groupKey, salt), nonce)
  const ciphertext = Buffer.concat([cipher.update(image), cipher.final(), cipher.getAuthTag()])
  return { ciphertext: new Uint8Array(ciphertext), salt, nonce }
}

/** Throws when the ciphertext was not made with this key, salt and nonce (the GCM tag does not verify). */
export const decryptImage = (
  ciphertext: Uint8Array,
  groupKey: Uint8Array,
  ref: Pick<EncryptedImageRef, "salt" | "nonce">,
): Uint8Array => {
  if (ciphertext.length < 16) throw new Error("encrypted image is shorter than its GCM tag")
  const decipher = createDecipheriv("aes-256-gcm", imageKey(groupKey, ref.salt), ref.nonce)
  decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16))
  return new Uint8Array(
    Buffer.concat([decipher.update(ciphertext.subarray(0, ciphertext.length - 16)), decipher.final()]),
  )
}

export const encodeImageRef = (ref: EncryptedImageRef): Uint8Array =>
  new ProtoWriter().string(1, ref.url).bytes(2, ref.salt).bytes(3, ref.nonce).finish()

export const decodeImageRef = (bytes: Uint8Array): EncryptedImageRef | null => {
  const f = readProto(bytes)
  const url = protoString(f, 1)
  const salt = protoBytes(f, 2)
  const nonce = protoBytes(f, 3)
  if (!url || salt?.length !== IMAGE_SALT_BYTES || nonce?.length !== IMAGE_NONCE_BYTES) return null
  return { url, salt: Uint8Array.from(salt), nonce: Uint8Array.from(nonce) }
}
