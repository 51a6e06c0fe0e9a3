import { deflateRawSync, deflateSync } from "node:zlib"
import { describe, expect, it } from "vitest"
import { generateIdentity } from "../../identity.ts"
import {
  checkInviteExpiry,
  createInviteSlug,
  decodeInvite,
  decryptConversationId,
  encodePayload,
  encodeSlug,
  extractInviteCode,
  inviteUrlBase,
  parseInvite,
  randomTag,
  verifyOwnInvite,
} from "../invite.ts"
import { decodeMetadata, encodeMetadata } from "../metadata.ts"
import { InviteError } from "../errors.ts"
import { ProtoWriter } from "../proto.ts"

const conversationId = "0123456789abcdef0123456789abcdef"

/** 0x1F || uint32BE(declared size) || compressed, as base64url: the compressed framing of slugs and appData. */
const framed = (declaredSize: number, compressed: Uint8Array) => {
  const header = Buffer.alloc(5)
  header[0] = 0x1f
  header.writeUInt32BE(declaredSize, 1)
  return Buffer.concat([header, compressed]).toString("base64url")
}

const signedInviteBytes = (slug: string) => Buffer.from(slug.replace(/\*/g, ""), "base64url")

const errorOf = (f: () => unknown) => {
  try {
    f()
  } catch (e) {
    if (e instanceof InviteError) return e
    throw e
  }
  throw new Error("expected an InviteError")
}

const reason = (f: () => unknown) => {
  try {
    f()
  } catch (e) {
    if (e instanceof InviteError) return e.reason
    throw e
  }
  return "no error"
}

describe("Convos invite codec", () => {
  it("round-trips every field and lets only the creator read the conversation id", () => {
    const creator = generateIdentity()
    const tag = randomTag()
    const expiresAt = new Date(Date.now() + 3_600_000)
    const slug = createInviteSlug(creator, {
      conversationId,
      tag,
      name: "Trip 🧳",
      description: "Plans",
      emoji: "🧳",
      expiresAt,
      singleUse: true,
    })
    const url = `${inviteUrlBase("dev")}${slug}`
    const parsed = parseInvite(url)
    expect(parsed.payload).toMatchObject({
      creatorInboxId: creator.inboxId,
      tag,
      name: "Trip 🧳",
      description: "Plans",
      emoji: "🧳",
      expiresAfterUse: true,
      expiresAt: Math.floor(expiresAt.getTime() / 1000),
    })
    expect(parsed.signerAddress).toBe(creator.address)
    expect(verifyOwnInvite(creator, parsed)).toBe(conversationId)
    expect(() =>
      decryptConversationId(generateIdentity().privateKey, creator.inboxId, parsed.payload.conversationToken),
    ).toThrow(InviteError)
    expect(slug[0]).toBe("C") // uncompressed SignedInvite starts with field 1 (0x0A), which every Convos reader accepts
  })

  it("packs UUID conversation ids and long ids", () => {
    const creator = generateIdentity()
    for (const id of ["3f2504e0-4f89-41d3-9a0c-0305e82c3301", "x".repeat(400)]) {
      const parsed = parseInvite(createInviteSlug(creator, { conversationId: id, tag: randomTag() }))
      expect(verifyOwnInvite(creator, parsed)).toBe(id)
    }
  })

  it("accepts every URL form the Convos apps accept, and long slugs split with *", () => {
    const creator = generateIdentity()
    const slug = createInviteSlug(creator, { conversationId, tag: randomTag(), description: "d".repeat(400) })
    expect(slug).toContain("*")
    for (const form of [
      `https://popup.convos.org/v2?i=${slug}`,
      `https://dev.convos.org/i/${slug}`,
      `https://convos.org/invite?code=${slug}`,
      `convos://invite/${slug}`,
      `convos://join/${slug}`,
      slug,
    ]) {
      expect(extractInviteCode(form)).toBe(slug)
      expect(parseInvite(form).payload.creatorInboxId).toBe(creator.inboxId)
    }
  })

  it("refuses tampered, expired, foreign, truncated and garbage invites with the right reason", () => {
    const creator = generateIdentity()
    const slug = createInviteSlug(creator, { conversationId, tag: randomTag() })
    const parsed = parseInvite(slug)
    // Change one byte of the signed payload and re-wrap it with the original signature.
    const tampered = Uint8Array.from(parsed.payloadBytes)
    tampered[tampered.length - 1] ^= 0x01
    const forged = parseInvite(encodeSlug(tampered, parsed.signature))
    expect(forged.signerAddress).not.toBe(creator.address)
    expect(reason(() => verifyOwnInvite(creator, forged))).toBe("bad-signature")
    expect(
      reason(() =>
        parseInvite(
          createInviteSlug(creator, { conversationId, tag: randomTag(), expiresAt: new Date(Date.now() - 1000) }),
        ),
      ),
    ).toBe("expired")
    expect(reason(() => verifyOwnInvite(generateIdentity(), parsed))).toBe("wrong-creator")
    expect(reason(() => parseInvite(slug.slice(0, 60)))).toBe("malformed")
    expect(reason(() => parseInvite("hello there"))).toBe("not-an-invite")
    expect(reason(() => parseInvite("https://example.com/nothing"))).toBe("not-an-invite")
  })

  it("reads and writes group metadata (tag), compressed or not, and legacy JSON", () => {
    expect(decodeMetadata(encodeMetadata({ tag: "AbCdEfGhIj", emoji: "🤖" }))).toEqual({
      tag: "AbCdEfGhIj",
      emoji: "🤖",
    })
    const long = encodeMetadata({ tag: "AbCdEfGhIj", emoji: "🤖".repeat(60) })
    expect(Buffer.from(long, "base64url")[0]).toBe(0x1f)
    expect(decodeMetadata(long)?.tag).toBe("AbCdEfGhIj")
    expect(decodeMetadata('{"tag":"legacy0001"}')).toEqual({ tag: "legacy0001" })
    expect(decodeMetadata("not metadata at all")).toBeNull()
  })

  describe("decompression bombs", () => {
    it("refuses a slug that inflates past its declared size (a lying header) instead of inflating it", () => {
      const creator = generateIdentity()
      // A genuinely signed invite whose SignedInvite is ~2 MB, compressed to a few KB, declared as 500 bytes.
      const huge = createInviteSlug(creator, { conversationId, tag: randomTag(), description: "a".repeat(2_000_000) })
      const bomb = framed(500, deflateRawSync(signedInviteBytes(huge)))
      expect(bomb.length).toBeLessThan(10_000)
      const e = errorOf(() => parseInvite(bomb))
      expect(e.reason).toBe("too-large")
      expect(e.message).toMatch(/inflates to more than allowed/)
      // zlib-wrapped (convos-cli framing) is capped the same way.
      expect(reason(() => parseInvite(framed(500, deflateSync(signedInviteBytes(huge)))))).toBe("too-large")
    })

    it("refuses declared sizes over 1 MiB or over 100× the compressed size, as the Convos app does", () => {
      const creator = generateIdentity()
      const big = signedInviteBytes(
        createInviteSlug(creator, { conversationId, tag: randomTag(), description: "b".repeat(600_000) }),
      )
      const packed = deflateRawSync(big)
      expect(big.length / packed.length).toBeGreaterThan(100)
      expect(reason(() => parseInvite(framed(big.length, packed)))).toBe("too-large") // honest size, ratio > 100
      expect(reason(() => parseInvite(framed(2 << 20, packed)))).toBe("too-large") // over 1 MiB
      // An ordinary compressed invite is still read.
      const normal = signedInviteBytes(
        createInviteSlug(creator, { conversationId, tag: "Normal0001", name: "n".repeat(200) }),
      )
      expect(parseInvite(framed(normal.length, deflateRawSync(normal))).payload.tag).toBe("Normal0001")
    })

    it("group metadata (appData) that inflates past its limits is treated as unreadable", () => {
      const inflated = new ProtoWriter().string(1, "BombTag001").bytes(2, new Uint8Array(2_000_000)).finish()
      const packed = deflateRawSync(inflated)
      expect(decodeMetadata(framed(60, packed))).toBeNull() // lying header
      expect(decodeMetadata(framed(inflated.length, packed))).toBeNull() // over 1 MiB
      const fine = new ProtoWriter().string(1, "FineTag001").bytes(2, new Uint8Array(300)).finish()
      expect(decodeMetadata(framed(fine.length, deflateRawSync(fine)))?.tag).toBe("FineTag001")
    })
  })
})

describe("invite expiry and the creator's check (boundaries)", () => {
  const reasonOf = (f: () => unknown) => errorOf(f).reason

  it("an invite expires right after its expiry second, not at it; one without expiry never does", () => {
    const creator = generateIdentity()
    const expiresAt = new Date(1_900_000_000_000)
    const slug = createInviteSlug(creator, { conversationId, tag: randomTag(), expiresAt })
    const invite = decodeInvite(slug)
    expect(invite.payload.expiresAt).toBe(1_900_000_000)
    expect(() => checkInviteExpiry(invite, new Date(1_900_000_000_000))).not.toThrow()
    expect(reasonOf(() => checkInviteExpiry(invite, new Date(1_900_000_000_001)))).toBe("expired")
    expect(reasonOf(() => parseInvite(slug, new Date(1_900_000_001_000)))).toBe("expired")
    const forever = decodeInvite(createInviteSlug(creator, { conversationId, tag: randomTag() }))
    expect(() => checkInviteExpiry(forever, new Date(4_000_000_000_000))).not.toThrow()
  })

  it("an expiry of 0 (the protobuf default) means no expiry, for the invite and for its conversation", () => {
    const real = decodeInvite(createInviteSlug(generateIdentity(), { conversationId, tag: randomTag() }))
    const zero = decodeInvite(
      encodeSlug(encodePayload({ ...real.payload, expiresAt: 0, conversationExpiresAt: 0 }), real.signature),
    )
    expect([zero.payload.expiresAt, zero.payload.conversationExpiresAt]).toEqual([0, 0])
    expect(() => checkInviteExpiry(zero, new Date(4_000_000_000_000))).not.toThrow()
  })

  it("an invite whose conversation has ended is refused as conversation-expired (its own expiry may be later)", () => {
    const creator = generateIdentity()
    const slug = createInviteSlug(creator, {
      conversationId,
      tag: randomTag(),
      expiresAt: new Date(1_900_000_100_000),
      conversationExpiresAt: new Date(1_900_000_000_000),
    })
    expect(() => parseInvite(slug, new Date(1_900_000_000_000))).not.toThrow()
    expect(reasonOf(() => parseInvite(slug, new Date(1_900_000_050_000)))).toBe("conversation-expired")
    expect(reasonOf(() => parseInvite(slug, new Date(1_900_000_200_000)))).toBe("expired")
  })

  it("an invite naming my inbox but signed with another key is bad-signature; one naming another inbox is wrong-creator", () => {
    const me = generateIdentity()
    const forger = generateIdentity()
    const inMyName = decodeInvite(
      createInviteSlug({ ...forger, inboxId: me.inboxId }, { conversationId, tag: randomTag() }),
    )
    expect(inMyName.payload.creatorInboxId).toBe(me.inboxId)
    expect(reasonOf(() => verifyOwnInvite(me, inMyName))).toBe("bad-signature")
    const theirs = decodeInvite(createInviteSlug(forger, { conversationId, tag: randomTag() }))
    expect(reasonOf(() => verifyOwnInvite(me, theirs))).toBe("wrong-creator")
    expect(verifyOwnInvite(forger, theirs)).toBe(conversationId)
  })

  it("decodeInvite: no invite in the text is not-an-invite; a truncated one is malformed", () => {
    expect(reasonOf(() => decodeInvite("just words"))).toBe("not-an-invite")
    const slug = createInviteSlug(generateIdentity(), { conversationId, tag: randomTag() })
    expect(reasonOf(() => decodeInvite(slug.slice(0, 60)))).toBe("malformed")
  })
})
