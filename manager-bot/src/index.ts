// The manager bot as the composition root (server/) and the web use it.
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { migrationsWith } from "@convos-agents/pool-core"

export { ManagerBot, ManagerBotLive, type ManagerBotInfo } from "./ManagerBot.ts"

/** The bot's own tables (manager chats, the message ledger, bot state): migrations 0200 and 0400. */
export const botMigrationsFolder = join(dirname(fileURLToPath(import.meta.url)), "..", "migrations")

/** The database schema the bot needs: pool-core's migrations and the bot's. */
export const BotMigrations = migrationsWith(botMigrationsFolder)
