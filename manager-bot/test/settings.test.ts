import { ConfigProvider, Effect } from "effect"
import { describe, expect, it } from "vitest"
import { botSettings } from "../src/ManagerBot.ts"

// The bot's own settings: defaults when unset, and a bad value fails at start with a message naming the variable.

const withEnv = (env: Record<string, string>) =>
  Effect.runPromise(
    Effect.result(
      botSettings.pipe(Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))),
    ),
  )

const inbox = "ab".repeat(32)

describe("manager bot settings", () => {
  it("uses the defaults and takes valid values", async () => {
    expect(await withEnv({})).toMatchObject({
      _tag: "Success",
      success: { commandsPerMinute: 30, concurrency: 16, alertIntervalMs: 600_000 },
    })
    const r = await withEnv({
      COMMANDS_PER_MINUTE: "5",
      BOT_CONCURRENCY: "2",
      ALERT_INTERVAL_MS: "0",
      ADMIN_INBOX_IDS: ` ${inbox.toUpperCase()} ,`,
    })
    expect(r).toMatchObject({ _tag: "Success", success: { commandsPerMinute: 5, concurrency: 2, alertIntervalMs: 0 } })
    expect(r._tag === "Success" && [...r.success.admins]).toEqual([inbox])
  })

  it.each([
    ["BOT_CONCURRENCY", "0"],
    ["BOT_CONCURRENCY", "-4"],
    ["COMMANDS_PER_MINUTE", "0"],
    ["ALERT_INTERVAL_MS", "-1"],
  ])("%s=%s fails naming it", async (variable, value) => {
    const r = await withEnv({ [variable]: value })
    expect(r).toMatchObject({ _tag: "Failure", failure: { _tag: "InvalidConfig", variable } })
    expect(r._tag === "Failure" && r.failure.message).toContain(`${variable} is ${value}; it must be at least`)
  })

  it("a value that is not a number fails and says which", async () => {
    const r = await withEnv({ BOT_CONCURRENCY: "lots" })
    expect(r._tag).toBe("Failure")
    expect(r._tag === "Failure" && r.failure.message).toContain("BOT_CONCURRENCY")
  })

  it("an admin that is not an inbox id fails naming ADMIN_INBOX_IDS", async () => {
    const r = await withEnv({ ADMIN_INBOX_IDS: `${inbox},alice` })
    expect(r).toMatchObject({ _tag: "Failure", failure: { _tag: "InvalidConfig", variable: "ADMIN_INBOX_IDS" } })
    expect(r._tag === "Failure" && r.failure.message).toContain('"alice"')
  })
})
