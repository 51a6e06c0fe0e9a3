import { webcrypto } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import type { ChatMessage } from "../../Messaging.ts"
import { latestProfiles, profileUpdateContent, readProfileUpdate } from "../contentTypes.ts"
import { inflateMarked } from "../invite.ts"
import { decodeMetadata, encodeMetadata, updateMetadata } from "../metadata.ts"
import { decryptImage, encryptImage, generateImageKey } from "../profileImage.ts"
import { ProtoWriter, protoBytes, protoString, readProto } from "../proto.ts"

// Convos encrypted profile images: AES-256-GCM under HKDF-SHA256(group key, salt, "ConvosImageV1"), the reference
// {url, salt, nonce} in the ProfileUpdate (field 2), the group key in appData field 4.

const png = Uint8Array.from([
  0x89,
  0x50,
  0x4e,
  0x47,
  0x0d,
  0x0a,
  0x1a,
  0x0a,
  ...Array.from({ length: 300 }, (_, i) => i % 251),
])

describe("Convos profile image encryption", () => {
  it("round-trips, and the ciphertext opens with WebCrypto as convos-cli decrypts it (HKDF → AES-GCM, tag appended)", async () => {
    const key = generateImageKey()
    const enc = encryptImage(png, key)
    assert.strictEqual(enc.salt.length, 32)
    assert.strictEqual(enc.nonce.length, 12)
    assert.strictEqual(enc.ciphertext.length, png.length + 16, "ciphertext || 16-byte tag, no nonce prefix")
    assert.deepStrictEqual(decryptImage(enc.ciphertext, key, enc), png)
    // The reference implementation's calls (convos-cli utils/imageEncryption.ts), independent of node:crypto's hkdfSync.
    const base = await webcrypto.subtle.importKey("raw", key, "HKDF", false, ["deriveKey"])
    const aes = await webcrypto.subtle.deriveKey(
      { name: "HKDF", hash: "SHA-256", salt: enc.salt, info: new TextEncoder().encode("ConvosImageV1") },
      base,
      { name: "AES-GCM", length: 256 },
      false,
      ["decrypt"],
    )
    const plain = new Uint8Array(
      await webcrypto.subtle.decrypt({ name: "AES-GCM", iv: enc.nonce }, aes, enc.ciphertext),
    )
    assert.deepStrictEqual(plain, png)
  })

  it("refuses another group's key and a tampered ciphertext", () => {
    const key = generateImageKey()
    const enc = encryptImage(png, key)
    assert.throws(() => decryptImage(enc.ciphertext, generateImageKey(), enc))
    const bad = Uint8Array.from(enc.ciphertext)
    bad[3]! ^= 1
    assert.throws(() => decryptImage(bad, key, enc))
  })

  it("the ProfileUpdate carries name, encrypted_image {url, salt, nonce} (field 2) and member_kind", () => {
    const ref = {
      url: "https://pool.example/avatars/abc",
      salt: new Uint8Array(32).fill(7),
      nonce: new Uint8Array(12).fill(9),
    }
    const content = profileUpdateContent("Scout", "agent", ref)
    const f = readProto(content.content)
    assert.strictEqual(protoString(f, 1), "Scout")
    const inner = readProto(protoBytes(f, 2)!)
    assert.strictEqual(protoString(inner, 1), ref.url)
    assert.deepStrictEqual(Uint8Array.from(protoBytes(inner, 2)!), ref.salt)
    assert.deepStrictEqual(Uint8Array.from(protoBytes(inner, 3)!), ref.nonce)
    const msg = { ...content, senderInboxId: "a", contentType: content.contentType } as unknown as ChatMessage
    assert.deepStrictEqual(readProfileUpdate(msg), { name: "Scout", kind: "agent", image: ref })
    const renamed = { ...profileUpdateContent("Scout2", "agent"), senderInboxId: "a" } as unknown as ChatMessage
    assert.strictEqual(latestProfiles([msg, renamed]).get("a")?.image, null, "a later update without image clears it")
  })

  it("adding the group key or a new tag to appData keeps every other field (profiles, group image, markers)", () => {
    const profiles = new ProtoWriter().bytes(1, new Uint8Array(32).fill(1)).string(2, "Ada").finish()
    const raw = new ProtoWriter()
      .string(1, "tag0000001")
      .bytes(2, profiles)
      .sfixed64(3, 1_900_000_000)
      .bytes(5, new Uint8Array([1, 2, 3]))
      .string(6, "🦊")
      .bytes(8, new Uint8Array([4, 5]))
      .finish()
    const appData = Buffer.from(raw).toString("base64url")
    const key = generateImageKey()
    const withKey = updateMetadata(appData, { imageEncryptionKey: key })
    const m = decodeMetadata(withKey)!
    assert.deepStrictEqual(m.imageEncryptionKey, key)
    assert.strictEqual(m.tag, "tag0000001")
    assert.strictEqual(m.emoji, "🦊")
    const rotated = updateMetadata(withKey, { tag: "tag0000002" })
    assert.strictEqual(decodeMetadata(rotated)!.tag, "tag0000002")
    assert.deepStrictEqual(decodeMetadata(rotated)!.imageEncryptionKey, key, "a new invite tag keeps the image key")
    const bytes = new Uint8Array(Buffer.from(rotated, "base64url"))
    const f = readProto(bytes[0] === 0x1f ? inflateMarked(bytes, "test") : bytes)
    assert.deepStrictEqual(Uint8Array.from(protoBytes(f, 2)!), profiles)
    assert.deepStrictEqual(Uint8Array.from(protoBytes(f, 8)!), new Uint8Array([4, 5]))
    assert.deepStrictEqual(Uint8Array.from(protoBytes(f, 5)!), new Uint8Array([1, 2, 3]))
    // Legacy JSON and our own encoding are upgraded the same way.
    assert.strictEqual(
      decodeMetadata(updateMetadata('{"tag":"legacy1234"}', { imageEncryptionKey: key }))!.tag,
      "legacy1234",
    )
    assert.deepStrictEqual(
      decodeMetadata(updateMetadata(encodeMetadata({ tag: "t" }), { imageEncryptionKey: key }))!.imageEncryptionKey,
      key,
    )
  })
})
