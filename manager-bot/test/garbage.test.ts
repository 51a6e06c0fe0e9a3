import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { ManagerBot } from "../src/ManagerBot.ts"
import { MAX_MESSAGE_CHARS } from "../src/bot/rateLimit.ts"
import { admin, botTestLayer, openManagerChat } from "./helpers.ts"

// 1,000 generated garbage messages (unicode, control characters, 100 KB, near-commands, injection strings) from ten
// people at once, through the real bot loop over devnet. Each message gets exactly one reply — the answer, or the
// rate-limit reply once a person passes their commands per minute — and afterwards the bot still answers /help.

const PEOPLE = 10
const EACH = 100
const PER_MINUTE = 60

/** Deterministic generator so a failure can be replayed. */
const rng = (seed: number) => () => (seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff) / 0x7fffffff

const garbage = (random: () => number) => {
  const int = (n: number) => Math.floor(random() * n)
  const chars = (n: number, from: number, to: number) =>
    String.fromCodePoint(...Array.from({ length: n }, () => from + int(to - from)))
  const kinds = [
    () => chars(1 + int(60), 0x20, 0xd7ff), // any BMP text
    () => chars(1 + int(20), 0x00, 0x20) + chars(5, 0x7f, 0xa0), // C0 and C1 control characters
    () => chars(1 + int(30), 0x1f300, 0x1faff), // emoji (astral)
    () => `${"👩‍👩‍👧‍👦".repeat(1 + int(40))}\u200d\u200b\ufeff`,
    () => `\u202e${chars(10, 0x61, 0x7a)}\u202c\u2066evil\u2069`, // bidi overrides
    () => `Z${"\u0300\u0336\u0353".repeat(50 + int(200))}`, // combining-mark stacks
    () => `${String.fromCharCode(0xd800 + int(0x400))}lone surrogate${String.fromCharCode(0xdc00 + int(0x400))}`,
    () => "y".repeat(MAX_MESSAGE_CHARS + 1),
    () => "z".repeat(MAX_MESSAGE_CHARS),
    () => ` \t\r\n${" ".repeat(int(20))}`,
    () => `/${chars(3 + int(8), 0x61, 0x7a)}q`, // an unknown command
    () =>
      [
        "/",
        "//",
        "/\u0000",
        "/new\u0000",
        "/help\u202e",
        "ＮＥＷ",
        "/name",
        "/join a b c d",
        "/release",
        "/instruct x",
        "/kill 1234",
        "/replenish 999",
      ][int(12)]!,
    () =>
      [
        "'; DROP TABLE processed_messages; --",
        "<script>alert(1)</script>",
        "${process.exit(1)}",
        "{{7*7}}",
        "%s%s%s%n",
        "\u001b[2J\u001b[31mred",
      ][int(6)]!,
    () => `new agent ${chars(12, 0x20, 0x7e)}`, // a sentence starting like a command
  ]
  // 100 KB messages are 3% of them: enough to test the size limit, few enough to keep the run short.
  const r = random()
  if (r < 0.015) return "x".repeat(100_000)
  if (r < 0.03) return chars(100_000, 0x4e00, 0x9fff) // 100 KB of CJK
  return kinds[int(kinds.length)]!()
}

layer(botTestLayer({ env: { COMMANDS_PER_MINUTE: String(PER_MINUTE) } }), {
  timeout: "180 seconds",
  excludeTestServices: true,
})("manager bot: garbage over devnet", (it) => {
  it.effect(
    `${PEOPLE * EACH} garbage messages: exactly one reply each (rate limit included), and the bot stays up`,
    () =>
      Effect.gen(function* () {
        const bot = yield* ManagerBot
        const people = yield* Effect.forEach(
          Array.from({ length: PEOPLE }, (_, i) => i),
          (i) => openManagerChat(`Fuzz${i}`),
          { concurrency: "unbounded" },
        )
        const started = Date.now()
        const results = yield* Effect.forEach(
          people,
          (person, p) =>
            Effect.gen(function* () {
              const random = rng(1_000 + p)
              const texts = Array.from({ length: EACH }, () => garbage(random))
              const before = (yield* person.botTexts()).length
              const replies = yield* person.sayAll(texts, EACH, 120_000)
              yield* Effect.sleep(300) // a second reply to anything would show up by now
              const extra = (yield* person.botTexts()).length - before - EACH
              return { texts, replies, extra }
            }),
          { concurrency: "unbounded" },
        )
        const seconds = (Date.now() - started) / 1000

        let limited = 0
        let tooLong = 0
        for (const { texts, replies, extra } of results) {
          assert.strictEqual(replies.length, EACH)
          assert.strictEqual(extra, 0, "no message got a second reply")
          // One chat is answered in order, so reply i is the answer to message i.
          replies.forEach((reply, i) => {
            const what = `message ${i} ${JSON.stringify(texts[i]!.slice(0, 40))} → ${JSON.stringify(reply.slice(0, 80))}`
            assert.isAbove(reply.trim().length, 0, what)
            assert.notInclude(reply, "Something went wrong", what)
            const isLimit = reply.includes("faster than I can take them")
            if (i < PER_MINUTE) {
              assert.isFalse(isLimit, what)
              assert.strictEqual(reply.includes("too long for me"), texts[i]!.length > MAX_MESSAGE_CHARS, what)
              if (texts[i]!.length > MAX_MESSAGE_CHARS) tooLong++
            } else {
              assert.isTrue(isLimit, `over ${PER_MINUTE} a minute, ${what}`)
              limited++
            }
          })
        }
        assert.strictEqual(limited, PEOPLE * (EACH - PER_MINUTE))
        assert.isAbove(tooLong, 0)
        assert.isTrue(
          results.some((r) => r.texts.some((t) => t.length >= 100_000)),
          "some messages were 100 KB",
        )

        // Still up: a newcomer gets help, and the ops chat still answers.
        const fresh = yield* openManagerChat("After")
        assert.include((yield* fresh.say("/help"))[0], "Here is what I can do")
        const ops = yield* openManagerChat("Admin", bot.opsInviteUrl, admin)
        assert.include((yield* ops.say("/counts"))[0], "idle 0")
        console.log(
          `garbage over devnet: ${PEOPLE * EACH} messages answered in ${seconds.toFixed(1)} s (${limited} rate-limited, ${tooLong} too long)`,
        )
      }),
    150_000,
  )
})
