import { spawn } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, layer } from "@effect/vitest"
import { Context, Effect, Layer, Option } from "effect"
import { DevnetServer, Messaging } from "@convos-agents/messaging"
import { joinByInvite, type JoinFailed } from "@convos-agents/messaging/convos"
import { loadOrCreateLocalOperator, readLocalOperator } from "@convos-agents/messaging/chat/operator"
import { DevnetTest } from "@convos-agents/messaging/devnet/testing"
import { ManagerBot } from "../src/ManagerBot.ts"
import { botTestParts } from "./helpers.ts"

// The local operator: on the devnet the bot keeps an operator identity in DATA_DIR (the same after a restart) and
// admits it to the ops chat, and `npm run chat -- --ops` (a real child process) is that operator there; the bot's
// multi-line replies arrive with their line breaks and the terminal prints them as lines under the sender's name. On
// XMTP the operator is never admitted, even with an operator.json from a devnet run in its DATA_DIR.

const cli = fileURLToPath(new URL("../../messaging/chat/cli.ts", import.meta.url))

/** `npm run chat` with stdin lines; its exit code, stdout lines and stderr. */
const runChat = (args: ReadonlyArray<string>, env: Record<string, string>, stdin: string) =>
  Effect.callback<{ code: number | null; lines: string[]; stderr: string }>((resume) => {
    const child = spawn(process.execPath, ["--import", "tsx", cli, ...args], {
      env: { ...process.env, XMTP_ENV: "", ...env },
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
    return Effect.sync(() => child.exitCode === null && child.kill("SIGKILL"))
  })

const indent = " ".repeat("Agent manager: ".length)

const devnet = botTestParts()
const withBot = <A, E, R>(body: Effect.Effect<A, E, R>) => body.pipe(Effect.provide(devnet.bot), Effect.scoped)

layer(devnet.deps, { timeout: "240 seconds", excludeTestServices: true })("local operator on the devnet", (it) => {
  it.effect(
    "the bot admits its local operator to the ops chat, the same one after a restart; `npm run chat -- --ops` prints multi-line replies line by line",
    () =>
      Effect.gen(function* () {
        const { url } = yield* DevnetServer
        const env = { DEVNET_URL: url, DATA_DIR: devnet.dataDir }
        const first = yield* withBot(
          Effect.gen(function* () {
            const bot = yield* ManagerBot
            const saved = readLocalOperator(devnet.dataDir)
            assert.isNotNull(saved)
            assert.strictEqual(bot.localOperatorInboxId, saved!.identity.inboxId)
            assert.strictEqual(saved!.opsConversationId, bot.opsConversationId)
            // The operator's own view: a member of the ops chat, whose /help arrives as one multi-line message.
            const messaging = yield* Messaging
            const op = yield* messaging.connect(saved!.identity, { label: "operator" })
            assert.isTrue(Option.isSome(yield* op.conversation(bot.opsConversationId)))
            const run = yield* runChat(["--ops", "--quiet-ms", "4000"], env, "/help\n")
            assert.strictEqual(run.code, 0, run.stderr)
            const helps = (yield* op.messages(bot.opsConversationId, { limit: 50 }))
              .map((m) => m.text ?? "")
              .filter((t) => t.startsWith("Ops commands"))
            assert.strictEqual(helps.length, 1)
            assert.include(helps[0], "\n/info — ")
            // Printed as Convos shows it: the first line after the name, each further line on its own, indented.
            const lines = helps[0]!.split("\n")
            assert.deepStrictEqual(run.lines, [
              `Agent manager: ${lines[0]}`,
              ...lines.slice(1).map((l) => (l === "" ? "" : indent + l)),
            ])
            return { inboxId: bot.localOperatorInboxId }
          }),
        )
        // A restart: the same operator, still admitted, answered in the ops chat.
        yield* withBot(
          Effect.gen(function* () {
            const bot = yield* ManagerBot
            assert.strictEqual(bot.localOperatorInboxId, first.inboxId)
            const run = yield* runChat(["--ops", "--quiet-ms", "4000"], env, "/info\n")
            assert.strictEqual(run.code, 0, run.stderr)
            assert.include(run.lines[0], "Agent manager: version ")
            assert.include(run.lines, `${indent}network: devnet`)
            assert.include(run.lines, `${indent}compute: memory`)
          }),
        )
      }),
    300_000,
  )
})

// The same bot on a network that is not the devnet (the devnet's transport, reporting XMTP "dev"), with an
// operator.json left in its DATA_DIR by a devnet run.
const xmtp = botTestParts({
  messaging: Layer.effectContext(
    Effect.gen(function* () {
      const messaging = yield* Messaging
      const server = yield* DevnetServer
      return Context.make(Messaging, Messaging.of({ ...messaging, network: "dev" })).pipe(
        Context.add(DevnetServer, server),
      )
    }),
  ).pipe(Layer.provide(DevnetTest)),
})
const leftover = loadOrCreateLocalOperator(xmtp.dataDir, "an-old-devnet-ops-chat")

layer(xmtp.bot.pipe(Layer.provideMerge(xmtp.deps)), { timeout: "120 seconds", excludeTestServices: true })(
  "local operator on XMTP",
  (it) => {
    it.effect(
      "is never admitted: ADMIN_INBOX_IDS only, whatever DATA_DIR holds; --ops refuses to run",
      () =>
        Effect.gen(function* () {
          const bot = yield* ManagerBot
          assert.isNull(bot.localOperatorInboxId)
          const messaging = yield* Messaging
          const op = yield* messaging.connect(leftover, { label: "operator" })
          assert.isTrue(Option.isNone(yield* op.conversation(bot.opsConversationId)))
          const joined = yield* joinByInvite(op, leftover, bot.opsInviteUrl, {
            profile: { name: "Operator", kind: "human" },
            timeoutMs: 10_000,
            pollMs: 100,
          }).pipe(Effect.catchTag("JoinFailed", (e: JoinFailed) => Effect.succeed({ _tag: "Refused" as const, e })))
          assert.strictEqual(joined._tag, "Refused")
          if (joined._tag === "Refused") assert.include(joined.e.message, "Only admins")
          assert.isTrue(Option.isNone(yield* op.conversation(bot.opsConversationId)))
          // The file is left as it was: the bot on XMTP neither reads nor rewrites it.
          assert.strictEqual(readLocalOperator(xmtp.dataDir)!.opsConversationId, "an-old-devnet-ops-chat")
          assert.isTrue(existsSync(join(xmtp.dataDir, "operator.json")))
          const run = yield* runChat(["--ops"], { XMTP_ENV: "dev", DATA_DIR: xmtp.dataDir }, "")
          assert.strictEqual(run.code, 1)
          assert.include(run.stderr, "--ops is the local operator of the embedded devnet")
          assert.notInclude(readFileSync(join(xmtp.dataDir, "operator.json"), "utf8"), bot.opsConversationId)
        }),
      300_000,
    )
  },
)
