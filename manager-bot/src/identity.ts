import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname } from "node:path"
import { Effect } from "effect"
import { generateIdentity, identityFromPrivateKey, type MessagingIdentity } from "@convos-agents/messaging"
import { InvalidConfig } from "@convos-agents/pool-core"

/** The bot's key: MANAGER_PRIVATE_KEY, else generated once and kept in a file (same bot, same invite, after restarts). */
export const loadOrCreateIdentity = (file: string, fromEnv: string | undefined) =>
  Effect.try({
    try: (): MessagingIdentity => {
      if (fromEnv && fromEnv.trim() !== "") return identityFromPrivateKey(fromEnv.trim())
      if (existsSync(file))
        return identityFromPrivateKey((JSON.parse(readFileSync(file, "utf8")) as { privateKey: string }).privateKey)
      const id = generateIdentity()
      mkdirSync(dirname(file), { recursive: true })
      writeFileSync(file, JSON.stringify({ privateKey: id.privateKey, inboxId: id.inboxId }, null, 2), { mode: 0o600 })
      return id
    },
    catch: (e) =>
      new InvalidConfig({
        variable: fromEnv ? "MANAGER_PRIVATE_KEY" : "DATA_DIR",
        message: `${fromEnv ? "MANAGER_PRIVATE_KEY" : `The manager identity file ${file}`} is not usable: ${e instanceof Error ? e.message : String(e)}`,
      }),
  })
