import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { Pool } from "@convos-agents/pool-core"
import { MemoryCloud } from "@convos-agents/pool-core/testing/pool"
import { ManagerBot } from "../src/ManagerBot.ts"
import { admin, botTestLayer, openManagerChat } from "./helpers.ts"

// /upgrade in the ops chat over devnet: it says it started, reports each claimed agent back and each failure with its
// reason, ends with the report; a second /upgrade meanwhile is refused with one line; /help lists it once.

const short = (id: string) => id.slice(0, 8)

// A restart keeps an agent away 400 ms: long enough for the second /upgrade to meet the first one running.
layer(botTestLayer({ cloud: { restartTakes: "400 millis" } }), { timeout: "120 seconds", excludeTestServices: true })(
  "manager bot: /upgrade",
  (it) => {
    it.effect("restarts idle and claimed agents, reports progress, failures and the result; refuses a second one", () =>
      Effect.gen(function* () {
        const pool = yield* Pool
        const cloud = yield* MemoryCloud
        const bot = yield* ManagerBot
        yield* pool.replenish(4)
        yield* pool.tick
        const kept = (yield* pool.claim({ key: "up-1", claimedBy: "someone", agentName: "Keeper" })).instance
        const broken = (yield* pool.claim({ key: "up-2", claimedBy: "someone", agentName: "Brittle" })).instance
        cloud.failRestartsOf(broken.providerRef!, "exit code 1 on the new runtime")
        const ops = yield* openManagerChat("Admin", bot.opsInviteUrl, admin)

        const [help] = yield* ops.say("/help")
        assert.strictEqual(help!.split("\n").filter((l) => l.startsWith("/upgrade")).length, 1)
        assert.include(help, "/upgrade — restart every agent on the new runtime")

        const restartsBefore = cloud.stats.restarts
        // The first answers at once with its start line; the second, sent right after, meets it running.
        const [started, refused] = yield* ops.sayAll(["/upgrade", "/upgrade"], 2)
        assert.strictEqual(
          started,
          "Upgrade started: upgrading 2 idle agent(s) at once, then 2 claimed agent(s) one at a time. I'll report here.",
        )
        assert.strictEqual(refused, "An upgrade is already running; wait for its report (nothing new was started).")
        // Then: one claimed agent back, one failure, the report (claimed ones in the order the pool lists them).
        const texts = yield* ops.waitForBotTexts((yield* ops.botTexts()).length + 3, 30_000)
        const [a, b, report] = texts.slice(-3)
        assert.sameMembers(
          [a, b],
          [
            `Keeper [${short(kept.id)}] is back on the new runtime`,
            `⚠️ Brittle [${short(broken.id)}] failed: exit code 1 on the new runtime`,
          ],
        )
        assert.match(
          report!,
          new RegExp(
            `^⚠️ Upgrade done in \\d+ s: 3 restarted on the new runtime \\(2 idle, 1 claimed\\), 1 failed \\(not retried\\):\\n• Brittle \\[${short(broken.id)}\\]: exit code 1 on the new runtime \\(it stays with its owner`,
          ),
        )
        // Each agent once: 4 restarts, none repeated; the second /upgrade restarted nothing.
        assert.strictEqual(cloud.stats.restarts - restartsBefore, 4)
        assert.strictEqual(cloud.instances.get(kept.providerRef!)!.restarts, 1)
        assert.strictEqual((yield* pool.get(kept.id)).status, "claimed")
      }),
    )
  },
)
