// `npm run chat` — a person's terminal chat on the devnet (DEVNET_URL or the running `npm start`) or XMTP (XMTP_ENV).
//   npm run chat -- --invite <convos invite url> --name "Ada"      join a conversation by invite (as Convos does)
//   npm run chat -- --name "Ada"                                     open the manager bot's invite ($DATA_DIR/manager-invite.url)
//   npm run chat -- --conversation <id> --name "Ada"                 continue in a conversation you are already in
//   npm run chat -- --ops                                            the ops chat, as the local operator `npm start`
//                                                                    made on the devnet ($DATA_DIR/operator.json)
// Reads one message per stdin line; prints each incoming message as `<sender name>: <text>`; on EOF waits until the
// conversation is quiet for --quiet-ms, then exits. Status goes to stderr so stdout stays scriptable.
import { Effect, Layer } from "effect"
import { DataDir } from "@convos-agents/contract"
import { existsSync, readFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { createInterface } from "node:readline"
import { parseArgs } from "node:util"
import { MessagingError } from "../errors.ts"
import { messagingLayerFromEnv } from "../layers.ts"
import { Messaging } from "../Messaging.ts"
import { loadOrCreateChatIdentity } from "./identityStore.ts"
import { operatorFile, readLocalOperator } from "./operator.ts"
import { announceProfile, joinByInvite, knownNames, profileNameOf } from "./convosBridge.ts"
import { runChatSession } from "./session.ts"

const usage = `usage: npm run chat -- [--invite <url> | --conversation <id> | --ops] [--name <display name>] [--quiet-ms <ms>]`

const { values } = parseArgs({
  options: {
    invite: { type: "string" },
    conversation: { type: "string" },
    ops: { type: "boolean", default: false },
    name: { type: "string" },
    "quiet-ms": { type: "string", default: "3000" },
    "join-timeout-ms": { type: "string", default: "60000" },
    help: { type: "boolean", default: false },
  },
})
if (values.help) {
  console.log(usage)
  process.exit(0)
}
const quietMs = Number(values["quiet-ms"])
const joinTimeoutMs = Number(values["join-timeout-ms"])
if (!Number.isFinite(quietMs) || quietMs < 0 || !Number.isFinite(joinTimeoutMs) || joinTimeoutMs <= 0) {
  console.error(`--quiet-ms and --join-timeout-ms must be numbers of milliseconds.\n${usage}`)
  process.exit(2)
}
const dataDir = resolve(Effect.runSync(DataDir))
const name = values.name ?? (values.ops ? "Operator" : (process.env.USER ?? "me"))
const status = (line: string) => process.stderr.write(`[chat] ${line}\n`)

const managerInvite = (): string | undefined => {
  const file = join(dataDir, "manager-invite.url")
  return existsSync(file) ? readFileSync(file, "utf8").trim() || undefined : undefined
}

/** --ops: the local operator `npm start` admitted to the ops chat; on the devnet only (XMTP admins use the ops invite). */
const opsSeat = (network: string) =>
  Effect.gen(function* () {
    if (network !== "devnet")
      return yield* new MessagingError({
        reason: "invalid",
        message:
          "--ops is the local operator of the embedded devnet. On XMTP the ops chat admits ADMIN_INBOX_IDS only: open the ops invite `npm start` prints with --invite, as one of them.",
      })
    const operator = yield* Effect.try({
      try: () => readLocalOperator(dataDir),
      catch: (e) => new MessagingError({ reason: "invalid", message: e instanceof Error ? e.message : String(e) }),
    })
    if (!operator?.opsConversationId)
      return yield* new MessagingError({
        reason: "not-found",
        message: `No local operator in ${operatorFile(dataDir)} yet: start the system with \`npm start\` (embedded devnet) with this DATA_DIR first.`,
      })
    return { identity: operator.identity, opsConversationId: operator.opsConversationId }
  })

const program = Effect.gen(function* () {
  const messaging = yield* Messaging
  const operator = values.ops ? yield* opsSeat(messaging.network) : null
  const identity = operator?.identity ?? loadOrCreateChatIdentity(dataDir, name)
  const client = yield* messaging.connect(identity, {
    label: name,
    dbPath: join(dataDir, "chat", `xmtp-${identity.inboxId}.db3`),
  })
  status(`you are ${name} (inbox ${identity.inboxId.slice(0, 8)}…) on ${messaging.network}`)
  const sinceMs = Date.now() - 1
  let conversationId = operator?.opsConversationId ?? values.conversation
  if (!conversationId) {
    const invite = values.invite ?? managerInvite()
    if (!invite) {
      return yield* new MessagingError({
        reason: "invalid",
        message: `Nothing to open: pass --invite <url> (or --conversation <id>), or start the manager bot with \`npm start\` so ${join(dataDir, "manager-invite.url")} exists.`,
      })
    }
    status("joining by invite…")
    conversationId = yield* joinByInvite(client, identity, invite, { name, timeoutMs: joinTimeoutMs })
  }
  const info = yield* client.conversation(conversationId)
  if (info._tag === "None")
    return yield* new MessagingError({
      reason: "not-found",
      message: `You are not in conversation ${conversationId}; join it with --invite first.`,
    })
  status(`in "${info.value.name ?? conversationId}" – type a message and press enter; Ctrl-D to leave`)
  const names = yield* knownNames(client, conversationId)
  yield* announceProfile(client, conversationId, name, names)
  const input = createInterface({ input: process.stdin, terminal: false })
  yield* runChatSession({
    client,
    conversationId,
    input,
    print: (line) => console.log(line),
    quietMs,
    sinceMs,
    profileName: profileNameOf,
    names,
  })
}).pipe(Effect.scoped)

Effect.runPromise(program.pipe(Effect.provide(messagingLayerFromEnv as Layer.Layer<Messaging, MessagingError>))).then(
  () => process.exit(0),
  (e: unknown) => {
    const err = e as { message?: string }
    status(`error: ${err?.message ?? String(e)}`)
    process.exit(1)
  },
)
