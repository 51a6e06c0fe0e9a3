import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { Pool } from "@convos-agents/pool-core"
import { PoolTest } from "@convos-agents/pool-core/pool/testing.ts"
import { makeRouter } from "../src/router.ts"

// 10,000 generated messages from 20 people through the bot's router (the part that reads what people type): commands
// with wrong arity, unicode, 100 KB, control characters, and other people's agent ids and names. Every message gets a
// non-empty reply, nothing crashes, and nobody's reply ever mentions another person's agent.

const MESSAGES = Number(process.env.FUZZ_MESSAGES ?? 10_000)

/** Deterministic generator so a failure can be replayed. */
const rng = (seed: number) => () => ((seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff) / 0x7fffffff)

layer(PoolTest(), { timeout: "300 seconds", excludeTestServices: true })("chat fuzz", (it) => {
  it.effect(`${MESSAGES} generated messages: a reply each, no crash, no cross-person leaks`, () =>
    Effect.gen(function* () {
      const pool = yield* Pool
      yield* pool.replenish(20)
      yield* pool.tick
      const router = yield* makeRouter({ inviteUrlFor: () => "https://dev.convos.org/v2?i=x", commandsPerMinute: 1_000_000 })
      const people = Array.from({ length: 20 }, (_, i) => `person-${i.toString().padStart(2, "0")}`)
      // Each person gets one agent with a unique name, through the real dialog.
      const agents = new Map<string, { id: string; name: string }>()
      for (const [n, p] of people.entries()) {
        const conv = `chat-${p}`
        const msg = (text: string, k: string) => router.handle({ conversationId: conv, sender: p, messageId: `${p}-${k}`, text, inOpsChat: false, isAdmin: false })
        yield* msg("/new", "a")
        yield* msg(`Secret${n}Agent`, "b")
        yield* msg("/skip", "c")
        const [mine] = yield* pool.list({ claimedBy: p })
        agents.set(p, { id: mine!.id, name: `Secret${n}Agent` })
      }
      const random = rng(42)
      const pick = <A>(xs: ReadonlyArray<A>) => xs[Math.floor(random() * xs.length)]!
      const junk = () =>
        pick([
          () => "",
          () => "\u0000\u0007\u001b[31m",
          () => "🤖🔥".repeat(1 + Math.floor(random() * 50)),
          () => "x".repeat(100_000),
          () => String.fromCharCode(...Array.from({ length: 40 }, () => Math.floor(random() * 0xd7ff))),
          () => "\u202eevil\u202c",
          () => "/".repeat(5),
        ])()
      const commands = ["/help", "/agents", "/templates", "/new", "/name", "/instruct", "/invite", "/join", "/release", "/counts", "/kill", "/replenish", "/nope", "new agent", "my agents", "/skip", "/cancel"]
      let replies = 0
      /**
       * Which other agents' names/ids each person has typed so far: replies may echo a person's own words (e.g. a name
       * they chose), never someone else's data.
       */
      const typed = new Map<string, Set<string>>()
      for (let i = 0; i < MESSAGES; i++) {
        const sender = pick(people)
        const victim = agents.get(pick(people))!
        const ref = pick([victim.id, victim.id.slice(0, 8), victim.name, junk(), ""])
        const text = pick([
          () => junk(),
          () => `${pick(commands)} ${ref}`,
          () => `${pick(commands)} ${ref} ${junk()}`,
          () => `${pick(commands)}`,
          () => `${pick(commands)} ${ref} https://dev.convos.org/v2?i=${junk()}`,
        ])()
        const seen = typed.get(sender) ?? new Set<string>()
        for (const a of agents.values()) for (const token of [a.name, a.id.slice(0, 8)]) if (text.includes(token)) seen.add(token)
        typed.set(sender, seen)
        const out = yield* router.handle({ conversationId: `chat-${sender}`, sender, messageId: `fuzz-${i}`, text, inOpsChat: false, isAdmin: false })
        // Names the sender chose for their own agents (a name is just text: they may reuse someone else's).
        const ownNames = (yield* pool.list({ claimedBy: sender })).map((x) => x.agentName ?? "").join("\n")
        assert.isAbove(out.length, 0, `no reply to message ${i}: ${JSON.stringify(text.slice(0, 80))}`)
        for (const r of out) {
          assert.isAbove(r.trim().length, 0)
          assert.notInclude(r, "Something went wrong", `message ${i} (${JSON.stringify(text.slice(0, 80))}) hit an internal error`)
          for (const [owner, a] of agents) {
            if (owner === sender) continue
            // Another person's agent may only appear if the sender typed it themselves (echoing their own input).
            if (!seen.has(a.name) && !ownNames.includes(a.name)) assert.notInclude(r, a.name, `message ${i} leaked ${owner}'s agent to ${sender}`)
            if (!seen.has(a.id.slice(0, 8))) assert.notInclude(r, a.id.slice(0, 8), `message ${i} leaked ${owner}'s agent id to ${sender}`)
          }
        }
        replies += out.length
      }
      // Nobody's agent changed hands or vanished through someone else's commands.
      for (const [owner, a] of agents) {
        const current = yield* Effect.result(pool.get(a.id))
        if (current._tag === "Success") assert.strictEqual(current.success.claimedBy, owner)
      }
      console.log(`chat fuzz: ${MESSAGES} messages, ${replies} replies`)
    }), 600_000)
})
