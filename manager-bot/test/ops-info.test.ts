import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { Pool } from "@convos-agents/pool-core"
import { ManagerBot } from "../src/ManagerBot.ts"
import { admin, botTestLayer, openManagerChat } from "./helpers.ts"

// The ops chat's read-only views over devnet, from the admin's seat: /info (the deployment), /events [n] (the audit
// trail, bounded), /owner <id> (one owner's agents) and /agent <id> (any instance, whoever owns it), each checked
// against the pool's real state; /agent stays the person's own command in a manager chat.

const short = (id: string) => id.slice(0, 8)

layer(botTestLayer({ settings: { minIdle: 2, maxTotal: 7 } }), { timeout: "120 seconds", excludeTestServices: true })(
  "manager bot: ops views",
  (it) => {
    it.effect(
      "/info, /events, /owner and /agent answer from the pool's state; /help lists them",
      () =>
        Effect.gen(function* () {
          const pool = yield* Pool
          const bot = yield* ManagerBot
          yield* pool.replenish(3)
          yield* pool.tick
          const ann = yield* openManagerChat("Ann")
          const zed = (yield* pool.claim({
            key: "ops-info-1",
            claimedBy: ann.id.inboxId,
            agentName: "Zed",
            instructions: "Plan trips.\nBe brief.",
          })).instance
          yield* pool.claim({ key: "ops-info-2", claimedBy: "api:partner", agentName: "Api Agent" })
          const ops = yield* openManagerChat("Admin", bot.opsInviteUrl, admin)

          const [help] = yield* ops.say("/help")
          for (const line of [
            "/info — ",
            "/events [n] — ",
            "/owner <id> — ",
            "/agent <id> — everything about any instance",
          ])
            assert.include(help, line)
          assert.notInclude(help, "/agent <agent>")

          const [info] = yield* ops.say("/info")
          assert.match(info!, /^version 0\.1\.0/)
          assert.include(info, "network: devnet")
          assert.include(info, "compute: memory")
          assert.include(info, "model: none")
          assert.include(info, "targets: idle 2, max 7 · now idle 1, total 3")

          // The audit trail: newest last, bounded, and exactly n lines when asked for n.
          const [events] = yield* ops.say("/events")
          const lines = events!.split("\n")
          assert.strictEqual(lines[0], `The latest ${lines.length - 1} pool event(s), UTC:`)
          assert.strictEqual(lines.length - 1, 10)
          assert.match(lines.at(-1)!, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [0-9a-f]{8} provisioned claiming→claimed$/)
          assert.include(events, `${short(zed.id)} claim idle→claiming (ops-info-1)`)
          const [two] = yield* ops.say("/events 2")
          assert.strictEqual(two!.split("\n").length, 3)
          for (const bad of ["/events 0", "/events 51", "/events lots"])
            assert.include((yield* ops.say(bad))[0], "Usage: /events [n] with n from 1 to 50 (default 10).")
          const [all] = yield* ops.say("/events 50")
          assert.strictEqual(all!.split("\n").length - 1, (yield* pool.recentEvents({ limit: 50 })).length)

          // One owner's agents, by the whole id or its start; nobody else's.
          const [anns] = yield* ops.say(`/owner ${ann.id.inboxId}`)
          assert.include(anns, `${ann.id.inboxId} has 1 agent(s):`)
          assert.include(anns, `• Zed [${short(zed.id)}] — running`)
          assert.notInclude(anns, "Api Agent")
          assert.include((yield* ops.say(`/owner ${ann.id.inboxId.slice(0, 10)}`))[0], "• Zed")
          assert.include((yield* ops.say("/owner api:partner"))[0], "• Api Agent")
          assert.include((yield* ops.say("/owner ffffffffff"))[0], "No agents owned by ffffffffff")

          // Any instance, with its owner and its events; an idle one too.
          const [detail] = yield* ops.say(`/agent ${short(zed.id)}`)
          assert.include(detail, `Zed [${short(zed.id)}]`)
          assert.include(detail, `owner: ${ann.id.inboxId}`)
          assert.include(detail, "instructions:\nPlan trips.\nBe brief.")
          assert.include(detail, "latest events:")
          assert.include(detail, "claim idle→claiming (ops-info-1)")
          const [idle] = yield* pool.list({ status: ["idle"] })
          const [idleDetail] = yield* ops.say(`/agent ${idle!.id}`)
          assert.include(idleDetail, "status: idle")
          assert.include(idleDetail, "owner: none (not claimed)")
          assert.include((yield* ops.say("/agent zzzz"))[0], "No instance zzzz")

          // In her manager chat /agent is still Ann's own view, of her agents only.
          assert.include((yield* ann.say("/agent Zed"))[0], "Plan trips.")
          assert.notInclude((yield* ann.say(`/agent ${short(idle!.id)}`))[0], "status: idle")
          assert.include((yield* ann.say("/info"))[0], "/info is an ops command")
        }),
      300_000,
    )
  },
)
