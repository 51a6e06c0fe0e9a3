import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { Pool } from "@convos-agents/pool-core"
import { TestDatabase } from "@convos-agents/pool-core/testing/db"
import { PoolTest } from "@convos-agents/pool-core/testing/pool"
import { makeBotPipeline, repliesTo } from "../src/bot/pipeline.ts"
import { Dialogs } from "../src/dialogs/Dialogs.ts"
import { withBotTables } from "./helpers.ts"

// 10,000 generated messages from 20 people through the bot's router (the part that reads what people type): commands
// with wrong arity, unicode, 100 KB, control characters, and other people's agent ids and names. Every message gets a
// non-empty reply, nothing crashes, no reply mentions another person's agent unless that very message named it, and
// every agent changes (name, instructions, owner, existence) only through its owner's messages.

const MESSAGES = Number(process.env.FUZZ_MESSAGES ?? 10_000)

/** Deterministic generator so a failure can be replayed. */
const rng = (seed: number) => () => (seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff) / 0x7fffffff

layer(PoolTest({ database: withBotTables(TestDatabase) }), { timeout: "300 seconds", excludeTestServices: true })(
  "chat fuzz",
  (it) => {
    it.effect(
      `${MESSAGES} generated messages: a reply each, no crash, no cross-person leaks`,
      () =>
        Effect.gen(function* () {
          const pool = yield* Pool
          yield* pool.replenish(20)
          yield* pool.tick
          const router = yield* makeBotPipeline({
            inviteUrlFor: () => "https://dev.convos.org/v2?i=x",
            commandsPerMinute: 1_000_000,
          }).pipe(Effect.provide(Dialogs.layer))
          const people = Array.from({ length: 20 }, (_, i) => `person-${i.toString().padStart(2, "0")}`)
          // Each person gets one agent with a unique name, through the real dialog.
          const agents = new Map<string, { id: string; name: string }>()
          for (const [n, p] of people.entries()) {
            const conv = `chat-${p}`
            const msg = (text: string, k: string) =>
              repliesTo(router, {
                conversationId: conv,
                sender: p,
                messageId: `${p}-${k}`,
                text,
                inOpsChat: false,
                isAdmin: false,
              })
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
          const commands = [
            "/help",
            "/agents",
            "/templates",
            "/new",
            "/name",
            "/instruct",
            "/invite",
            "/join",
            "/release",
            "/counts",
            "/kill",
            "/replenish",
            "/nope",
            "new agent",
            "my agents",
            "/skip",
            "/cancel",
          ]
          let replies = 0
          /** (reply, other person's agent) pairs checked for a leak, i.e. not excused by this message naming the agent. */
          let checked = 0
          /** Every instance as it was before the current message: what changed must belong to the message's sender. */
          type Row = {
            readonly claimedBy: string | null
            readonly agentName: string | null
            readonly instructions: string | null
            readonly status: string
          }
          const snapshot = (rows: ReadonlyArray<{ id: string } & Row>) =>
            new Map(
              rows.map((r) => [
                r.id,
                {
                  claimedBy: r.claimedBy,
                  agentName: r.agentName,
                  instructions: r.instructions,
                  status: r.status,
                } as Row,
              ]),
            )
          let before = snapshot(yield* pool.list({ limit: 10_000 }))
          /** The name each sender gave in an unfinished /new dialog (their own data: "Setting up <name>…" echoes it). */
          const dialogName = new Map<string, string>()
          /** Who released each agent that is gone. */
          const releasedBy = new Map<string, string>()
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
              // The sender's own agent: renames, new instructions and releases that must work, and only for the owner.
              () =>
                `${pick(commands)} ${pick([agents.get(sender)!.id.slice(0, 8), agents.get(sender)!.name])} ${pick(["", junk(), "Renamed"])}`,
            ])()
            const out = yield* repliesTo(router, {
              conversationId: `chat-${sender}`,
              sender,
              messageId: `fuzz-${i}`,
              text,
              inOpsChat: false,
              isAdmin: false,
            })
            const rows = yield* pool.list({ limit: 10_000 })
            const what = `message ${i} from ${sender} (${JSON.stringify(text.slice(0, 80))})`

            // Nobody's agent changed hands, changed, or went away through someone else's message.
            const after = snapshot(rows)
            for (const [id, was] of before) {
              const now = after.get(id)
              if (
                now &&
                now.claimedBy === was.claimedBy &&
                now.agentName === was.agentName &&
                now.instructions === was.instructions &&
                now.status === was.status
              )
                continue
              if (was.claimedBy === null)
                assert.include([null, sender], now?.claimedBy ?? null, `${what} gave a free instance to someone else`)
              else
                assert.strictEqual(was.claimedBy, sender, `${what} changed ${was.claimedBy}'s agent ${id.slice(0, 8)}`)
              if (!now) releasedBy.set(id, sender)
            }
            for (const [id, now] of after)
              if (!before.has(id))
                assert.include([null, sender], now.claimedBy, `${what} created an agent for someone else`)
            before = after

            assert.isAbove(out.length, 0, `no reply to ${what}`)
            // The sender's own agents' names may contain anything (a name is just text, even someone else's agent's
            // name): their occurrences are the sender's own data and are removed before looking for leaks.
            const ownNames = [
              ...rows.filter((x) => x.claimedBy === sender).map((x) => x.agentName ?? ""),
              dialogName.get(sender) ?? "",
            ].filter((n) => n.length >= 4)
            const named = /^Great: ([\s\S]*)\. What should it do\?/.exec(out[0] ?? "")
            if (named) dialogName.set(sender, named[1]!)
            for (const r of out) {
              assert.isAbove(r.trim().length, 0)
              assert.notInclude(r, "Something went wrong", `${what} hit an internal error`)
              const rest = ownNames.reduce((acc, n) => acc.split(n).join(""), r)
              for (const [owner, a] of agents) {
                if (owner === sender) continue
                // Another person's agent may appear only if this very message named it (a reply echoing the input).
                if (!text.includes(a.name)) {
                  checked++
                  assert.notInclude(rest, a.name, `${what} leaked ${owner}'s agent name`)
                }
                if (!text.includes(a.id.slice(0, 8)))
                  assert.notInclude(rest, a.id.slice(0, 8), `${what} leaked ${owner}'s agent id`)
              }
            }
            replies += out.length
          }
          // Every agent is still its original owner's, or was released by that owner.
          for (const [owner, a] of agents) {
            const current = yield* Effect.result(pool.get(a.id))
            if (current._tag === "Success")
              assert.strictEqual(current.success.claimedBy, owner, `${a.name} changed hands`)
            else
              assert.strictEqual(
                releasedBy.get(a.id),
                owner,
                `${a.name} (${owner}'s) vanished without its owner releasing it`,
              )
          }
          assert.isAbove(checked, MESSAGES, "almost every reply was checked against every other person's agents")
          console.log(
            `chat fuzz: ${MESSAGES} messages, ${replies} replies, ${checked} leak checks, ${releasedBy.size} agents released by their owners`,
          )
        }),
      600_000,
    )
  },
)
