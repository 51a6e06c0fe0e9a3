import { describe, expect, it } from "vitest"
import { generateInboxId } from "@xmtp/node-sdk"
import { generateIdentity, identityFromPrivateKey, recoverAddress, signRecoverable } from "./identity.ts"

describe("identity", () => {
  it("derives the inbox id exactly as @xmtp/node-sdk's generateInboxId (nonce 1)", () => {
    for (let i = 0; i < 5; i++) {
      const id = generateIdentity()
      // IdentifierKind.Ethereum = 0 (ambient const enum in the bindings, so a numeric literal here)
      expect(id.inboxId).toBe(generateInboxId({ identifier: id.address, identifierKind: 0 }))
      expect(id.address).toMatch(/^0x[0-9a-f]{40}$/)
    }
  })

  it("derives the well-known address of private key 1", () => {
    const id = identityFromPrivateKey("0x0000000000000000000000000000000000000000000000000000000000000001")
    expect(id.address).toBe("0x7e5f4552091a69125d5dfcb7b8c2659029395bdf")
  })

  it("recovers the signer address from an r||s||recid signature and rejects bad keys", () => {
    const id = generateIdentity()
    const msg = new TextEncoder().encode("challenge")
    const sig = signRecoverable(id, msg)
    expect(recoverAddress(msg, sig)).toBe(id.address)
    expect(recoverAddress(new TextEncoder().encode("other"), sig)).not.toBe(id.address)
    expect(() => identityFromPrivateKey("0x1234")).toThrow(/32 bytes/)
    expect(identityFromPrivateKey(id.privateKey.slice(2).toUpperCase())).toEqual(id)
  })
})
