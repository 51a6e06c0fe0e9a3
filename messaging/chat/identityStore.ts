// A chat user's identity, persisted so reruns with the same --name are the same person: $DATA_DIR/chat/<name>.json.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { generateIdentity, identityFromPrivateKey } from "../identity.ts"
import type { MessagingIdentity } from "../Messaging.ts"

export const chatIdentityFile = (dataDir: string, name: string): string =>
  join(
    dataDir,
    "chat",
    `${
      name
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, "-")
        .replace(/^-|-$/g, "") || "me"
    }.json`,
  )

/** Loads the identity stored for `name`, creating (and saving, mode 0600) a new one on first use. */
export const loadOrCreateChatIdentity = (dataDir: string, name: string): MessagingIdentity => {
  const file = chatIdentityFile(dataDir, name)
  if (existsSync(file)) {
    const saved = JSON.parse(readFileSync(file, "utf8")) as { privateKey?: string }
    if (!saved.privateKey)
      throw new Error(`${file} has no privateKey; delete it to create a new identity for "${name}".`)
    return identityFromPrivateKey(saved.privateKey)
  }
  const identity = generateIdentity()
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(
    file,
    JSON.stringify(
      { name, privateKey: identity.privateKey, address: identity.address, inboxId: identity.inboxId },
      null,
      2,
    ),
    { mode: 0o600 },
  )
  return identity
}
