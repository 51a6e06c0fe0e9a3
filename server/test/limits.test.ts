import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Result, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { LIMITS, ProvisionBody } from "@convos-agents/contract"
import { Pool } from "@convos-agents/pool-core"
import { TestDatabase } from "@convos-agents/pool-core/testing/db"
import { PoolTest } from "@convos-agents/pool-core/testing/pool"
import { BotMigrations } from "@convos-agents/manager-bot"
import { makeBotPipeline, repliesTo } from "../../manager-bot/src/bot/pipeline.ts"
import { Dialogs } from "../../manager-bot/src/dialogs/Dialogs.ts"
import { ClaimBody, Count } from "../../pool-core/api/routes/pool.ts"
import { JoinForm } from "../../web/src/routes/claims.tsx"
import { openApiDocument } from "../../pool-core/api/openapi.ts"

// One table of limits (contract/limits.ts): the bot, the pool API, the web and the runtime contract refuse at the same
// boundary. Each edge is driven the way a caller reaches it (the bot through its real pipeline and /new dialog, the
// others through the Schemas their routes decode with, unknown fields refused as the routes do).

const accepts = (schema: Schema.Top, value: unknown) =>
  Result.isSuccess(
    Schema.decodeUnknownResult(schema as never)(value, { onExcessProperty: "error" }) as Result.Result<
      unknown,
      unknown
    >,
  )

const name = (n: number) => "é".repeat(n)
const text = (n: number) => "x".repeat(n)
const slug = (n: number) => "a".repeat(n)

describe("the same boundary at every edge", () => {
  it("agent name: the API and the runtime take 64 code points and refuse 65", () => {
    expect(LIMITS.agentNameChars).toBe(64)
    expect(accepts(ClaimBody, { agentName: name(64) })).toBe(true)
    expect(accepts(ClaimBody, { agentName: name(65) })).toBe(false)
    expect(accepts(ProvisionBody, { agentName: name(64), instructions: "" })).toBe(true)
    expect(accepts(ProvisionBody, { agentName: name(65), instructions: "" })).toBe(false)
  })

  it("instructions: the API and the runtime take 8,000 characters and refuse 8,001", () => {
    expect(LIMITS.instructionsChars).toBe(8_000)
    expect(accepts(ClaimBody, { instructions: text(8_000) })).toBe(true)
    expect(accepts(ClaimBody, { instructions: text(8_001) })).toBe(false)
    expect(accepts(ProvisionBody, { agentName: "A", instructions: text(8_000) })).toBe(true)
    expect(accepts(ProvisionBody, { agentName: "A", instructions: text(8_001) })).toBe(false)
  })

  it("template slug: the API, the web's join form and the runtime take 64 characters and refuse 65", () => {
    expect(LIMITS.templateSlugChars).toBe(64)
    expect(accepts(ClaimBody, { templateSlug: slug(64) })).toBe(true)
    expect(accepts(ClaimBody, { templateSlug: slug(65) })).toBe(false)
    expect(accepts(JoinForm, { invite: "https://dev.convos.org/v2?i=x", template: slug(64), nonce: "abcdefgh" })).toBe(
      true,
    )
    expect(accepts(JoinForm, { invite: "https://dev.convos.org/v2?i=x", template: slug(65), nonce: "abcdefgh" })).toBe(
      false,
    )
    expect(accepts(ProvisionBody, { agentName: "A", instructions: "", templateSlug: slug(64) })).toBe(true)
    expect(accepts(ProvisionBody, { agentName: "A", instructions: "", templateSlug: slug(65) })).toBe(false)
  })

  it("the pool API's OpenAPI document states the same limits (generated from the route Schemas)", () => {
    const body = (path: string) =>
      (openApiDocument.paths as any)[path].post.requestBody.content["application/json"].schema
    expect(body("/api/pool/claim").properties.instructions).toMatchObject({
      type: "string",
      maxLength: LIMITS.instructionsChars,
    })
    expect(body("/api/pool/claim").properties.templateSlug).toMatchObject({
      type: "string",
      maxLength: LIMITS.templateSlugChars,
    })
    expect(body("/api/pool/claim").additionalProperties).toBe(false)
    expect(body("/api/pool/replenish")).toMatchObject({
      required: ["count"],
      properties: { count: { type: "integer", minimum: 1, maximum: 20 } },
    })
    expect(body("/api/pool/drain").properties.count).toMatchObject({ minimum: 1, maximum: 20 })
  })

  it("instances per replenish or drain: the API takes 1 to 20", () => {
    expect([LIMITS.poolCountMin, LIMITS.poolCountMax]).toEqual([1, 20])
    expect([0, 1, 20, 21].map((count) => accepts(Count, { count }))).toEqual([false, true, true, false])
  })
})

layer(PoolTest({ database: TestDatabase.pipe(Layer.provide(BotMigrations)) }), {
  timeout: "300 seconds",
  excludeTestServices: true,
})("the bot at the same boundary", (it) => {
  it.effect(
    "/new refuses a 65-character name and 8,001 characters of instructions, takes 64 and 8,000; /replenish takes 1 to 20",
    () =>
      Effect.gen(function* () {
        const pool = yield* Pool
        yield* pool.replenish(2)
        yield* pool.tick
        const bot = yield* makeBotPipeline({
          inviteUrlFor: () => "https://dev.convos.org/v2?i=x",
          commandsPerMinute: 1_000_000,
        }).pipe(Effect.provide(Dialogs.layer))
        let n = 0
        const say = (text: string, ops = false) =>
          repliesTo(bot, {
            conversationId: ops ? "ops" : "chat",
            sender: "person",
            messageId: `m${n++}`,
            text,
            inOpsChat: ops,
            isAdmin: ops,
          }).pipe(Effect.map((r) => r.join("\n")))
        yield* say("/new")
        assert.include(yield* say(name(65)), "too long")
        assert.include(yield* say(name(64)), "What should it do?")
        assert.include(yield* say(text(8_001)), "too long")
        const done = yield* say(text(8_000))
        assert.notInclude(done, "too long")
        const [mine] = yield* pool.list({ claimedBy: "person" })
        assert.strictEqual(mine?.agentName, name(64))
        assert.strictEqual(mine?.instructions, text(8_000))
        assert.include(yield* say("/replenish 21", true), "from 1 to 20")
        assert.include(yield* say("/replenish 0", true), "from 1 to 20")
        assert.notInclude(yield* say("/replenish 20", true), "from 1 to 20")
      }),
  )
})
