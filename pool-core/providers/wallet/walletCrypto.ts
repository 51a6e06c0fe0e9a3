import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto"
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Config, Effect, Option, Redacted } from "effect"
import { InvalidConfig } from "../../domain/errors.ts"

// Wallet keys at rest: AES-256-GCM with a 32-byte key from WALLET_ENCRYPTION_KEY (64 hex characters or base64), or,
// on the embedded default, a key generated once into $DATA_DIR/wallet-encryption-key (mode 0600). Each ciphertext is
// bound to its instance id (GCM additional data): a row copied onto another instance does not decrypt.
// Format: "v1:" + base64(iv[12] | tag[16] | ciphertext).

export const WALLET_KEY_FILE = "wallet-encryption-key"

const invalid = (message: string) => new InvalidConfig({ variable: "WALLET_ENCRYPTION_KEY", message })

/** 32 bytes from 64 hex characters or base64; anything else is refused (a short key would be weak). */
export const parseWalletKey = (raw: string): Buffer | null => {
  const text = raw.trim()
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, "hex")
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(text)) {
    const bytes = Buffer.from(text.replace(/-/g, "+").replace(/_/g, "/"), "base64")
    return bytes.length === 32 ? bytes : null
  }
  return null
}

const fileKey = (dataDir: string): Buffer => {
  const file = join(dataDir, WALLET_KEY_FILE)
  if (existsSync(file)) {
    const key = parseWalletKey(readFileSync(file, "utf8"))
    if (!key)
      throw invalid(
        `${file} does not hold a 32-byte key (64 hex characters); restore it from a backup, or wallets encrypted with it cannot be read.`,
      )
    return key
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const key = randomBytes(32)
  writeFileSync(file, key.toString("hex"), { mode: 0o600, flag: "wx" })
  chmodSync(file, 0o600)
  return key
}

/** The wallet encryption key: WALLET_ENCRYPTION_KEY, else the generated one under `dataDir`. */
export const loadWalletKey = (dataDir: string): Effect.Effect<Redacted.Redacted<Buffer>, InvalidConfig> =>
  Config.option(Config.Redacted("WALLET_ENCRYPTION_KEY")).pipe(
    Effect.mapError((e) => invalid(`WALLET_ENCRYPTION_KEY could not be read: ${e.message}.`)),
    Effect.flatMap((configured) => {
      if (Option.isSome(configured) && Redacted.value(configured.value).trim() !== "") {
        const key = parseWalletKey(Redacted.value(configured.value))
        return key
          ? Effect.succeed(Redacted.make(key))
          : Effect.fail(
              invalid("WALLET_ENCRYPTION_KEY must be 32 bytes: 64 hex characters (`openssl rand -hex 32`) or base64."),
            )
      }
      return Effect.try({
        try: () => Redacted.make(fileKey(dataDir)),
        catch: (e) =>
          e instanceof InvalidConfig ? e : invalid(`Could not create ${join(dataDir, WALLET_KEY_FILE)}: ${String(e)}`),
      })
    }),
  )

export const encryptSecret = (key: Redacted.Redacted<Buffer>, instanceId: string, plaintext: string): string => {
  const iv = randomBytes(12)
  const cipher = createCipheriv("aes-256-gcm", Redacted.value(key), iv)
  cipher.setAAD(Buffer.from(instanceId, "utf8"))
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()])
  return `v1:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64")}`
}

/** The plaintext, or null when the ciphertext is damaged, belongs to another instance or another key. */
export const decryptSecret = (key: Redacted.Redacted<Buffer>, instanceId: string, stored: string): string | null => {
  if (!stored.startsWith("v1:")) return null
  const raw = Buffer.from(stored.slice(3), "base64")
  if (raw.length < 29) return null
  try {
    const decipher = createDecipheriv("aes-256-gcm", Redacted.value(key), raw.subarray(0, 12))
    decipher.setAAD(Buffer.from(instanceId, "utf8"))
    decipher.setAuthTag(raw.subarray(12, 28))
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8")
  } catch {
    return null
  }
}
