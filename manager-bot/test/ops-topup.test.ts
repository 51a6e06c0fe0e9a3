import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import { Pool } from "@convos-agents/pool-core"
import { managementKey } from "@convos-agents/pool-core/testing/openrouter"
import { ProviderFakes, testKeyName } from "@convos-agents/pool-core/testing/providers"
import { ManagerBot } from "../src/ManagerBot.ts"
import { makeBotPipeline, repliesTo } from "../src/bot/pipeline.ts"
import { Dialogs } from "../src/dialogs/Dialogs.ts"
import { admin, botWithProvidersTestLayer, openManagerChat } from "./helpers.ts"

// /topup over devnet: the real bot, the pool with live AgentResources over the loopback OpenRouter (which checks auth,
// method, path and body), real SQL for the event. An admin in the ops chat raises a claimed agent's cap; bad amounts,
// agents without a key and anyone outside the ops chat change nothing at OpenRouter.

const short = (id: string) => id.slice(0, 8)

layer(botWithProvidersTestLayer(), { timeout: "120 seconds", excludeTestServices: true })(
  "manager bot: /topup",
  (it) => {
    it.effect(
      "an admin in the ops chat tops up a claimed agent's key; bad input and keyless agents are refused with the reason",
      () =>
        Effect.gen(function* () {
          const pool = yield* Pool
          const fakes = yield* ProviderFakes
          const sql = yield* SqlClient.SqlClient
          const bot = yield* ManagerBot
          yield* pool.replenish(2)
          yield* pool.tick
          const agent = (yield* pool.claim({ key: "topup-1", claimedBy: "someone", agentName: "Rita" })).instance
          const [idle] = yield* pool.list({ status: ["idle"] })
          const key = [...fakes.openrouter.state.keys.values()].find((k) => k.name === testKeyName(agent.id))!
          assert.strictEqual(key.limit, 20)
          const changes = () => fakes.openrouter.api.requests.filter((r) => r.method !== "GET")
          const before = changes().length

          const ops = yield* openManagerChat("Admin", bot.opsInviteUrl, admin)
          const [done] = yield* ops.say(`/topup ${short(agent.id)} 5`)
          assert.strictEqual(done, `Topped up ${short(agent.id)} (Rita) by $5.00: its cap is now $25.00.`)
          assert.strictEqual(key.limit, 25)
          const patch = changes().slice(before)
          assert.deepStrictEqual(
            patch.map((r) => [r.method, r.path, r.body]),
            [["PATCH", `/api/v1/keys/${key.hash}`, { limit: 25 }]],
          )
          assert.strictEqual(patch[0]!.headers.authorization, `Bearer ${managementKey}`)
          const events = yield* sql<{
            detail: string
          }>`SELECT detail FROM events WHERE instance_id = ${agent.id} AND kind = 'topup'`
          assert.deepStrictEqual(
            events.map((e) => e.detail),
            [`amountUsd=5 limitUsd=25 by=ops:${admin.inboxId}`],
          )

          assert.include((yield* ops.say(`/topup ${short(agent.id)} $2.50`))[0], "by $2.50: its cap is now $27.50.")
          assert.strictEqual(key.limit, 27.5)

          const afterGood = changes().length
          for (const amount of ["0", "-5", "abc", "1.234", "5 extra"]) {
            assert.include(
              (yield* ops.say(`/topup ${short(agent.id)} ${amount}`))[0],
              "Usage: /topup <id> <usd>",
              amount,
            )
          }
          assert.include(
            (yield* ops.say(`/topup ${short(agent.id)} 101`))[0],
            "amountUsd must be at most 100 USD per top-up (OPENROUTER_TOPUP_MAX)",
          )
          assert.include(
            (yield* ops.say(`/topup ${short(idle!.id)} 5`))[0],
            `Instance ${idle!.id} has no OpenRouter key`,
          )
          assert.include((yield* ops.say("/topup zzzz 5"))[0], "No instance zzzz. Say /pool to list them.")
          assert.include((yield* ops.say("/topup"))[0], "Usage: /topup <id> <usd>")
          assert.strictEqual(changes().length, afterGood, "nothing sent to OpenRouter")
          assert.strictEqual(key.limit, 27.5)
          assert.include((yield* ops.say("/help"))[0], "/topup <id> <usd> — raise an agent's OpenRouter spending cap")
        }),
    )

    it.effect("/topup is refused in a manager chat and for a non-admin in the ops chat; the cap stays", () =>
      Effect.gen(function* () {
        const pool = yield* Pool
        const fakes = yield* ProviderFakes
        const [agent] = yield* pool.list({ status: ["claimed"] })
        const key = [...fakes.openrouter.state.keys.values()].find((k) => k.name === testKeyName(agent!.id))!
        const limit = key.limit
        const changes = () => fakes.openrouter.api.requests.filter((r) => r.method !== "GET").length
        const before = changes()

        const mallory = yield* openManagerChat("Mallory")
        const [refused] = yield* mallory.say(`/topup ${agent!.id} 50`)
        assert.strictEqual(refused, "/topup is an ops command: it only works in the ops chat, for admins.")

        // The devnet never lets a non-admin into the ops chat (its invite refuses them), so that case goes to the router.
        const router = yield* makeBotPipeline({ inviteUrlFor: () => "https://dev.convos.org/v2?i=x" }).pipe(
          Effect.provide(Dialogs.layer),
        )
        const bot = yield* ManagerBot
        const [notAdmin] = yield* repliesTo(router, {
          conversationId: bot.opsConversationId,
          sender: mallory.id.inboxId,
          messageId: "m-1",
          text: `/topup ${agent!.id} 50`,
          inOpsChat: true,
          isAdmin: false,
        })
        assert.strictEqual(notAdmin, "Only admins can use ops commands.")
        assert.strictEqual(changes(), before)
        assert.strictEqual(key.limit, limit)
      }),
    )
  },
)
