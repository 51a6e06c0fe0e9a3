import { assert, layer } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { instanceToken, Pool, PoolConfig } from "@convos-agents/pool-core"
import { makeApiApp } from "@convos-agents/pool-core/api"
import { checkAgentPageLink } from "@convos-agents/contract"
import { MemoryCloud } from "@convos-agents/pool-core/testing/pool"
import { botTestLayer, botWithProvidersTestLayer, openManagerChat } from "./helpers.ts"

// Owner notifications over devnet with the real bot: when a running agent crashes, its owner hears it in their
// manager chat with what to do (/restart among it); /restart brings it back and the owner hears it is back up; a
// stranger's /restart is refused without revealing the agent; a failed setup is answered by the claim alone.

layer(botTestLayer({ settings: { deathGrace: Duration.zero } }), { timeout: "120 seconds", excludeTestServices: true })(
  "manager bot: owner notices",
  (it) => {
    it.effect(
      "a running agent that crashes: its owner is told in the manager chat, with what to do; nobody else is",
      () =>
        Effect.gen(function* () {
          const pool = yield* Pool
          const cloud = yield* MemoryCloud
          yield* pool.replenish(1)
          yield* pool.tick
          const ada = yield* openManagerChat("Ada")
          const eve = yield* openManagerChat("Eve")
          yield* ada.say("/new")
          yield* ada.say("Voyager")
          const [, ready] = yield* ada.say("/skip", 2)
          assert.include(ready, "Voyager is ready")
          const [agent] = yield* pool.list({ claimedBy: ada.id.inboxId })
          const before = (yield* ada.botTexts()).length
          const eveBefore = (yield* eve.botTexts()).length

          cloud.setState(agent!.providerRef!, "failed")
          yield* pool.tick
          assert.strictEqual((yield* pool.get(agent!.id)).status, "crashed")
          const [notice] = (yield* ada.waitForBotTexts(before + 1)).slice(before)
          assert.include(notice, `⚠️ Voyager [${agent!.id.slice(0, 8)}] stopped working: memory reports it failed`)
          assert.include(notice, "/restart Voyager starts it again")
          assert.include(notice, "/agent Voyager shows its state; /release Voyager then /new")
          yield* Effect.sleep(Duration.millis(500))
          assert.strictEqual((yield* eve.botTexts()).length, eveBefore, "nobody else hears of it")

          // A stranger cannot restart it, and learns nothing about it.
          const [refused] = yield* eve.say("/restart Voyager")
          assert.include(refused, "You have no agents yet")
          assert.notInclude(refused, agent!.id.slice(0, 8))
          // The owner restarts it: the reply says so, and the owner notice says it is back up.
          const [restarting, back] = yield* ada.say("/restart Voyager", 2)
          assert.include(restarting, "Restarting Voyager")
          assert.include(back, `✅ Voyager [${agent!.id.slice(0, 8)}] is back up`)
          assert.strictEqual((yield* pool.get(agent!.id)).status, "claimed")
          assert.strictEqual(cloud.stats.restarts, 1)
          const [running] = yield* ada.say("/restart Voyager")
          assert.include(running, "Voyager is running, not crashed: there is nothing to restart")
          yield* Effect.sleep(Duration.millis(500))
          assert.strictEqual((yield* eve.botTexts()).length, eveBefore + 1, "Eve heard only her own answer")
        }),
    )

    it.effect("a claim whose setup fails is answered once, by the claim; no crash notice follows", () =>
      Effect.gen(function* () {
        const pool = yield* Pool
        const cloud = yield* MemoryCloud
        yield* pool.replenish(1)
        yield* pool.tick
        const cy = yield* openManagerChat("Cy")
        cloud.failProvisions(1, "the agent's gateway did not start")
        yield* cy.say("/new")
        yield* cy.say("/skip")
        const [, failed] = yield* cy.say("/skip", 2)
        assert.include(failed, "Setting up the agent failed")
        const count = (yield* cy.botTexts()).length
        yield* Effect.sleep(Duration.millis(1_000))
        assert.strictEqual((yield* cy.botTexts()).length, count, "no second message about the same failure")
      }),
    )
  },
)

// The agent's own page (runtime/src/http/agentPage.ts): `/agent` gives the owner its signed link, and the page's
// "request more" (POST /api/agent-services/request-more, the agent's instance credentials) reaches the owner here.
layer(botWithProvidersTestLayer(), { timeout: "120 seconds", excludeTestServices: true })(
  "manager bot: the agent's own page",
  (it) => {
    it.effect(
      "/agent gives the owner a signed, expiring page link; the page's request-more reaches only the owner's chat",
      () =>
        Effect.gen(function* () {
          const pool = yield* Pool
          const config = yield* PoolConfig
          yield* pool.replenish(1)
          yield* pool.tick
          const ada = yield* openManagerChat("Ada")
          const eve = yield* openManagerChat("Eve")
          yield* ada.say("/new")
          yield* ada.say("Voyager")
          const [, ready] = yield* ada.say("/skip", 2)
          assert.include(ready, "Voyager is ready")
          const [agent] = yield* pool.list({ claimedBy: ada.id.inboxId })
          const token = instanceToken(config, agent!.id)

          const [detail] = yield* ada.say("/agent Voyager")
          const link = /page \(yours only, valid 24 h\): (\S+)/.exec(detail!)?.[1]
          assert.isDefined(link, detail)
          const url = new URL(link!)
          assert.isTrue(link!.startsWith(`${agent!.url!.replace(/\/+$/, "")}/convos/page?exp=`), link)
          const now = Date.now()
          assert.deepStrictEqual(checkAgentPageLink(token, url.searchParams, now), {
            ok: true,
            expiresAtSeconds: Number(url.searchParams.get("exp")),
          })
          assert.isAtLeast(Number(url.searchParams.get("exp")) * 1000 - now, 23 * 3600_000)
          assert.isAtMost(Number(url.searchParams.get("exp")) * 1000 - now, 24 * 3600_000 + 5_000)
          assert.deepStrictEqual(checkAgentPageLink(instanceToken(config, "another"), url.searchParams, now), {
            ok: false,
            reason: "tampered",
          })

          // The agent's runtime calls the pool with its instance credentials; the owner hears it, nobody else.
          const context = yield* Effect.context<never>()
          const runtime = {
            runPromiseExit: (effect: Effect.Effect<unknown, unknown, never>) =>
              Effect.runPromiseExit(Effect.provideContext(effect, context)),
          } as unknown as Parameters<typeof makeApiApp>[0]
          const app = makeApiApp(runtime, { apiKey: null, trustProxy: 0 })
          const before = (yield* ada.botTexts()).length
          const eveBefore = (yield* eve.botTexts()).length
          const ask = (bearer: string) =>
            Effect.promise(async () =>
              app.request("/api/agent-services/request-more", {
                method: "POST",
                headers: {
                  authorization: `Bearer ${bearer}`,
                  "x-instance-id": agent!.id,
                  "content-type": "application/json",
                },
                body: "{}",
              }),
            )
          assert.strictEqual((yield* ask("not-the-token")).status, 401)
          const res = yield* ask(token)
          assert.strictEqual(res.status, 200, yield* Effect.promise(() => res.clone().text()))
          assert.deepStrictEqual(yield* Effect.promise(() => res.json()), { ok: true })
          const texts = (yield* ada.waitForBotTexts(before + 1)).slice(before)
          assert.strictEqual(texts.length, 1, texts.join("\n---\n"))
          // Its spend against its cap, as OpenRouter (the loopback fake) says for the key the claim created.
          assert.match(
            texts[0]!,
            new RegExp(
              `^💳 Voyager \\[${agent!.id.slice(0, 8)}\\] asks for more: its spend is \\$0\\.00 / \\$\\d+\\.\\d\\d\\.`,
            ),
          )
          yield* Effect.sleep(Duration.millis(500))
          assert.strictEqual((yield* eve.botTexts()).length, eveBefore, "nobody else hears of it")
        }),
    )
  },
)
