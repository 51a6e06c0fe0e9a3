import { readFileSync } from "node:fs"
import { deflateRawSync, inflateSync } from "node:zlib"
import { describe, expect, it } from "vitest"
import { identityFromPrivateKey } from "../../identity.ts"
import { parseInvite, verifyOwnInvite } from "../invite.ts"

// Slugs generated once by an independent implementation, @xmtp/convos-cli 0.10.15 (`createInviteSlug` from its
// utils/invite module, run in a scratch directory outside this repo with fixed keys). Two of them are zlib-compressed
// (0x1F marker), the form the CLI writes for long invites.
const golden = JSON.parse(readFileSync(new URL("./fixtures/convos-cli-invites.json", import.meta.url), "utf8")) as {
  vectors: Array<{
    privateKey: string
    address: string
    inboxId: string
    conversationId: string
    tag: string
    name: string | null
    expiresAtUnix: number | null
    slug: string
  }>
}

describe("invites made by convos-cli", () => {
  it("has both plain and compressed vectors", () => {
    expect(golden.vectors.some((v) => v.slug.startsWith("Hw"))).toBe(true)
    expect(golden.vectors.some((v) => v.slug.startsWith("Cn"))).toBe(true)
  })

  for (const v of golden.vectors) {
    it(`decodes, verifies and decrypts ${v.tag}`, () => {
      const me = identityFromPrivateKey(v.privateKey)
      expect(me.address).toBe(v.address)
      expect(me.inboxId).toBe(v.inboxId)
      const parsed = parseInvite(`https://dev.convos.org/v2?i=${v.slug}`)
      expect(parsed.payload.tag).toBe(v.tag)
      expect(parsed.payload.creatorInboxId).toBe(v.inboxId)
      expect(parsed.payload.name ?? null).toBe(v.name)
      expect(parsed.payload.expiresAt ?? null).toBe(v.expiresAtUnix)
      expect(parsed.signerAddress).toBe(v.address)
      expect(verifyOwnInvite(me, parsed)).toBe(v.conversationId)
    })
  }

  // The Convos iOS app compresses with Apple's COMPRESSION_ZLIB, which is raw DEFLATE (no zlib header), while both
  // compressed golden vectors are zlib-wrapped (convos-cli). Re-frame their payload the way iOS writes it.
  for (const v of golden.vectors.filter((g) => g.slug.startsWith("Hw"))) {
    it(`reads the raw-DEFLATE (iOS) form of ${v.tag}`, () => {
      const framed = Buffer.from(v.slug.replace(/\*/g, ""), "base64url")
      const signedInvite = inflateSync(framed.subarray(5))
      const raw = deflateRawSync(signedInvite)
      expect(raw[0]).not.toBe(0x78) // no zlib header: only a raw-DEFLATE reader gets this right
      const header = Buffer.alloc(5)
      header[0] = 0x1f
      header.writeUInt32BE(signedInvite.length, 1)
      const slug = Buffer.concat([header, raw])
        .toString("base64url")
        .replace(/(.{300})(?=.)/g, "$1*")
      expect(slug).not.toBe(v.slug)
      const me = identityFromPrivateKey(v.privateKey)
      const parsed = parseInvite(`https://popup.convos.org/v2?i=${slug}`)
      expect(parsed.payload.tag).toBe(v.tag)
      expect(parsed.payload.name ?? null).toBe(v.name)
      expect(parsed.payload.expiresAt ?? null).toBe(v.expiresAtUnix)
      expect(Buffer.from(parsed.payloadBytes)).toEqual(Buffer.from(parseInvite(v.slug).payloadBytes))
      expect(parsed.signerAddress).toBe(v.address)
      expect(verifyOwnInvite(me, parsed)).toBe(v.conversationId)
    })
  }
})
