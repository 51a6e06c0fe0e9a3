import { expect, layer } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { generateIdentity } from "../identity.ts"
import { Messaging } from "../Messaging.ts"
import { DevnetServer } from "../devnet/server.ts"
import { DevnetTest } from "../devnet/testing.ts"
import { loadOrCreateChatIdentity } from "./identityStore.ts"
import {
  createInviteSlug,
  encodeMetadata,
  inviteUrlBase,
  profileUpdateContent,
  randomTag,
  serveJoinRequests,
  shortInboxId,
} from "../convos/index.ts"

const cli = fileURLToPath(new URL("./cli.ts", import.meta.url))

/** Runs `npm run chat`'s entry as a child process with `stdin` lines; resolves with its exit code and stdout lines. */
export const runChat = (args: ReadonlyArray<string>, env: Record<string, string>, stdin: string) =>
  Effect.callback<{ code: number | null; lines: string[]; stderr: string }>((resume) => {
    const child = spawn(process.execPath, ["--import", "tsx", cli, ...args], {
      env: { ...process.env, ...env },
      stdio: ["pipe", "pipe", "pipe"],
    })
    let out = ""
    let err = ""
    child.stdout.on("data", (d: Buffer) => (out += d.toString()))
    child.stderr.on("data", (d: Buffer) => (err += d.toString()))
    child.once("exit", (code) =>
      resume(Effect.succeed({ code, lines: out.split("\n").filter((l) => l !== ""), stderr: err })),
    )
    child.stdin.end(stdin)
    // Interruption (test timeout) kills the child by PID.
    return Effect.sync(() => child.exitCode === null && child.kill("SIGKILL"))
  })

layer(DevnetTest, { excludeTestServices: true })("terminal chat (child process)", (it) => {
  it.effect(
    "sends stdin lines, prints replies as `<sender>: <text>` with their line breaks (indented under the text), exits after the quiet period, keeps its identity",
    () =>
      Effect.gen(function* () {
        const { url } = yield* DevnetServer
        const messaging = yield* Messaging
        const dataDir = mkdtempSync(join(tmpdir(), "convos-chat-"))
        yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dataDir, { recursive: true, force: true })))
        const alice = loadOrCreateChatIdentity(dataDir, "Alice")
        yield* messaging.connect(alice) // registers the inbox so the bot can add it
        const bot = yield* messaging.connect(generateIdentity(), { label: "bot" })
        const group = yield* bot.createGroup([alice.inboxId], { name: "Manager" })
        yield* bot.stream().pipe(
          Stream.filter((m) => m.conversationId === group.id && m.senderInboxId === alice.inboxId && m.text !== null),
          Stream.runForEach((m) => bot.sendText(group.id, `echo: ${m.text}\n• first\n• second`)),
          Effect.forkScoped,
        )
        const env = { DEVNET_URL: url, DATA_DIR: dataDir }
        const args = ["--conversation", group.id, "--name", "Alice", "--quiet-ms", "1500"]
        const first = yield* runChat(args, env, "hello\n\nsecond line\n")
        expect(first.code, first.stderr).toBe(0)
        const botName = shortInboxId(bot.inboxId)
        const list = [`${" ".repeat(botName.length + 2)}• first`, `${" ".repeat(botName.length + 2)}• second`]
        expect(first.lines).toEqual([`${botName}: echo: hello`, ...list, `${botName}: echo: second line`, ...list])
        // Same --name → same identity file → same inbox: the rerun is still a member and is heard.
        const second = yield* runChat(args, env, "again\n")
        expect(second.code, second.stderr).toBe(0)
        expect(second.lines).toEqual([`${botName}: echo: again`, ...list])
        const texts = (yield* bot.messages(group.id))
          .filter((m) => m.senderInboxId === alice.inboxId && m.text !== null)
          .map((m) => m.text)
        expect(texts).toEqual(["hello", "second line", "again"])
      }),
    60_000,
  )

  it.effect(
    "joins by Convos invite URL, learns names from profile updates, and a rerun is the same member",
    () =>
      Effect.gen(function* () {
        const { url } = yield* DevnetServer
        const messaging = yield* Messaging
        const dataDir = mkdtempSync(join(tmpdir(), "convos-chat-"))
        yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dataDir, { recursive: true, force: true })))
        const botId = generateIdentity()
        const bot = yield* messaging.connect(botId, { label: "manager" })
        const tag = randomTag()
        const group = yield* bot.createGroup([], { name: "Trip", appData: encodeMetadata({ tag }) })
        const invite = inviteUrlBase("dev") + createInviteSlug(botId, { conversationId: group.id, tag, name: "Trip" })
        // The bot acts as the invite's creator (like the Convos app): adds joiners, then introduces itself.
        yield* serveJoinRequests(bot, botId, {
          onJoined: (ctx) =>
            Effect.andThen(
              bot.send(ctx.groupId, profileUpdateContent("Manager", "agent")),
              bot.sendText(ctx.groupId, `welcome ${ctx.request?.profile?.name ?? "?"}`),
            ).pipe(Effect.asVoid),
        }).pipe(Effect.forkScoped)
        yield* bot.stream().pipe(
          Stream.filter((m) => m.conversationId === group.id && m.senderInboxId !== bot.inboxId && m.text !== null),
          Stream.runForEach((m) => bot.sendText(group.id, `echo: ${m.text}`)),
          Effect.forkScoped,
        )
        const env = { DEVNET_URL: url, DATA_DIR: dataDir }
        const first = yield* runChat(
          ["--invite", invite, "--name", "Ada Lovelace", "--quiet-ms", "1500", "--join-timeout-ms", "20000"],
          env,
          "hi all\n",
        )
        expect(first.code, first.stderr).toBe(0)
        expect(first.lines).toEqual(["Manager: welcome Ada Lovelace", "Manager: echo: hi all"])
        const rerun = yield* runChat(
          ["--invite", invite, "--name", "Ada Lovelace", "--quiet-ms", "1500"],
          env,
          "back again\n",
        )
        expect(rerun.code, rerun.stderr).toBe(0)
        expect(rerun.lines).toEqual(["Manager: echo: back again"])
        expect((yield* bot.members(group.id)).length).toBe(2)
      }),
    60_000,
  )

  it.effect(
    "explains what to do when there is nothing to open",
    () =>
      Effect.gen(function* () {
        const { url } = yield* DevnetServer
        const dataDir = mkdtempSync(join(tmpdir(), "convos-chat-"))
        yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dataDir, { recursive: true, force: true })))
        const run = yield* runChat(["--name", "Bob"], { DEVNET_URL: url, DATA_DIR: dataDir }, "")
        expect(run.code).toBe(1)
        expect(run.stderr).toMatch(/pass --invite <url>/)
        expect(run.lines).toEqual([])
      }),
    60_000,
  )
})
