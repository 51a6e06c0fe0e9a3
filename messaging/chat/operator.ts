// The local operator: on the devnet `npm start` keeps one identity in $DATA_DIR/operator.json and admits it to the ops
// chat (ADMIN_INBOX_IDS is empty on a laptop), so the admin side can be tried locally with `npm run chat -- --ops`.
// The file also names the ops chat. On XMTP nothing writes it and the bot never admits it: admins are ADMIN_INBOX_IDS.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { generateIdentity, identityFromPrivateKey } from "../identity.ts"
import type { MessagingIdentity } from "../Messaging.ts"

export const operatorFile = (dataDir: string): string => join(dataDir, "operator.json")

export interface LocalOperator {
  readonly identity: MessagingIdentity
  /** The ops chat the bot admitted the operator to (null until the bot has started once). */
  readonly opsConversationId: string | null
}

/** The operator kept in `dataDir`, or null when there is none yet. Throws when the file is damaged. */
export const readLocalOperator = (dataDir: string): LocalOperator | null => {
  const file = operatorFile(dataDir)
  if (!existsSync(file)) return null
  const saved = JSON.parse(readFileSync(file, "utf8")) as { privateKey?: string; opsConversationId?: string | null }
  if (!saved.privateKey) throw new Error(`${file} has no privateKey; delete it and start again to create a new one.`)
  return {
    identity: identityFromPrivateKey(saved.privateKey),
    opsConversationId: saved.opsConversationId ?? null,
  }
}

/**
 * The operator of `dataDir` (created on first use, mode 0600), recorded as admitted to `opsConversationId`: the same
 * identity after every restart. Throws when the file is damaged.
 */
export const loadOrCreateLocalOperator = (dataDir: string, opsConversationId: string): MessagingIdentity => {
  const known = readLocalOperator(dataDir)
  if (known && known.opsConversationId === opsConversationId) return known.identity
  const identity = known?.identity ?? generateIdentity()
  const file = operatorFile(dataDir)
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(
    file,
    JSON.stringify(
      {
        name: "Operator",
        privateKey: identity.privateKey,
        address: identity.address,
        inboxId: identity.inboxId,
        opsConversationId,
      },
      null,
      2,
    ),
    { mode: 0o600 },
  )
  return identity
}
