import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, layer } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Layer } from "effect"
import { AgentResourcesNone, Pool, PoolLive, RuntimeClientLive, poolConfigLayer } from "@convos-agents/pool-core"
import { TestDatabase } from "@convos-agents/pool-core/testing/db"
import { DevnetServer } from "@convos-agents/messaging"
import { DevnetTest } from "@convos-agents/messaging/devnet/testing"
import { displayNames, joinByInvite } from "@convos-agents/messaging/convos"
import { localComputeLayer } from "@convos-agents/pool-core/compute/local"
import { ManagerBotLive } from "../src/ManagerBot.ts"
import { admin, openManagerChat, withBotTables } from "./helpers.ts"

// The whole product with a REAL agent: the pool's tick warms a real OpenClaw gateway (local compute), a person opens
// the manager bot's invite, asks for an agent with /new, joins the agent's conversation through the invite link the
// bot sends, and the agent greets them by name and answers (no model configured here, so it says so).

const dataDir = mkdtempSync(join(tmpdir(), "convos-agent-e2e-"))
const compute = Layer.unwrap(
  Effect.map(DevnetServer, (devnet) => localComputeLayer({ dataDir, baseEnv: { DEVNET_URL: devnet.url } })),
)
const appLayer = ManagerBotLive.pipe(
  Layer.provideMerge(PoolLive),
  Layer.provideMerge(Layer.mergeAll(compute, RuntimeClientLive, AgentResourcesNone)),
  Layer.provideMerge(
    poolConfigLayer({
      dataDir,
      runTick: true,
      minIdle: 1,
      maxTotal: 2,
      tickInterval: Duration.seconds(1),
      startTimeout: Duration.minutes(4),
      provisionTimeout: Duration.seconds(60),
    }),
  ),
  Layer.provideMerge(Layer.mergeAll(withBotTables(TestDatabase), DevnetTest)),
  Layer.provide(
    ConfigProvider.layer(ConfigProvider.fromEnv({ env: { DATA_DIR: dataDir, ADMIN_INBOX_IDS: admin.inboxId } })),
  ),
)

layer(appLayer, { timeout: "300 seconds", excludeTestServices: true })("manager bot with a real agent", (it) => {
  it.effect(
    "open the bot → /new → name → instructions → join the agent's conversation → the agent is there and answers",
    () =>
      Effect.gen(function* () {
        const pool = yield* Pool
        for (let i = 0; i < 240 && (yield* pool.counts).idle < 1; i++) yield* Effect.sleep(1000)
        assert.isAtLeast((yield* pool.counts).idle, 1, "a real agent became ready")

        const zoe = yield* openManagerChat("Zoe")
        yield* zoe.say("/new")
        yield* zoe.say("Zed")
        const [, ready] = yield* zoe.say("You are Zed. Be brief.", 2)
        assert.include(ready, "Zed is ready")
        const link = /(https?:\/\/\S+\/v2\?i=\S+)/.exec(ready)![1]!

        const joined = yield* joinByInvite(zoe.client, zoe.id, link, {
          profile: { name: "Zoe", kind: "human" },
          timeoutMs: 30_000,
          pollMs: 250,
        })
        assert.strictEqual(joined._tag, "Joined")
        const conversationId = joined._tag === "Joined" ? joined.conversationId : ""
        const [agent] = yield* pool.list({ claimedBy: zoe.id.inboxId })
        assert.strictEqual(agent!.conversationId, conversationId, "the invite leads to the agent's own conversation")

        const texts = () => zoe.client.messages(conversationId, { limit: 100 })
        let messages = yield* texts()
        for (let i = 0; i < 60 && !messages.some((m) => m.text?.includes("Zed")); i++) {
          yield* Effect.sleep(500)
          messages = yield* texts()
        }
        const greeting = messages.find((m) => m.text?.includes("I'm Zed"))
        assert.isDefined(greeting, "the agent greets the newcomer")
        assert.strictEqual(displayNames(messages).get(greeting!.senderInboxId), "Zed", "Convos shows the agent's name")

        yield* zoe.client.sendText(conversationId, "hello Zed")
        for (
          let i = 0;
          i < 120 &&
          !messages.some(
            (m) => m.senderInboxId === greeting!.senderInboxId && /no model configured/i.test(m.text ?? ""),
          );
          i++
        ) {
          yield* Effect.sleep(500)
          messages = yield* texts()
        }
        assert.isTrue(
          messages.some(
            (m) => m.senderInboxId === greeting!.senderInboxId && /no model configured/i.test(m.text ?? ""),
          ),
          "the agent answers in the conversation",
        )
      }),
    280_000,
  )
})
