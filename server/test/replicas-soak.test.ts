import { randomBytes } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { Effect, Exit, Scope } from "effect"
import { generateIdentity, identityFromPrivateKey, startDevnetServer } from "@convos-agents/messaging"
import { managementKey } from "@convos-agents/pool-core/testing/openrouter"
import { hasPostgres, needsPostgres } from "@convos-agents/pool-core/testing/db"
import { startFakeCloud } from "../../pool-core/test/reliability/crash/fake-cloud.ts"
import { chatUntil, joinManager, judge, type Person } from "./soak/people.ts"
import {
  API_KEY,
  api,
  exited,
  query,
  type Replica,
  schemaUrl,
  startFakeOpenRouter,
  startReplica,
} from "./soak/world.ts"

// Issue 25, item 5: two manager processes (./soak/manager.ts: `npm start`'s composition, compute on a loopback fake
// cloud instead of real OpenClaw agents) share one Postgres schema, one devnet (served by this test process) and one
// (fake, loopback) OpenRouter. For SOAK_SECONDS (default 180), SOAK_PEOPLE (default 20) scripted people chat with the
// manager bot (/new, name, /skip = the claim, /name, /agents, /release), claims arrive through both replicas' API (some
// keys at both at once), and top-ups land on the same agents from both replicas (some keys at both at once). Midway
// one replica is kill -9'ed and started again. Afterwards: every message got exactly one answer, every top-up was
// applied exactly once (OpenRouter's limit = the start + the sum), no instance was claimed twice, none is left
// `claiming`. A quick local run: SOAK_SECONDS=40 SOAK_PEOPLE=6.

const SOAK_SECONDS = Number(process.env.SOAK_SECONDS ?? 180)
const PEOPLE = Number(process.env.SOAK_PEOPLE ?? 20)
const GONE_AFTER_S = 5
/**
 * How long a person waits for an answer at most: a guard against a hang, not a bound (the test then fails on that
 * message). A message whose answer the killed replica claimed is known from the ledger and not waited for.
 */
const STEP_TIMEOUT_MS = 600_000
const serverUrl = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const waitFor = async (what: string, check: () => Promise<boolean>, ms = 180_000) => {
  const until = Date.now() + ms
  while (Date.now() < until) {
    if (await check()) return
    await sleep(300)
  }
  throw new Error(`timed out waiting for ${what}`)
}

const cents = (usd: number) => Math.round(usd * 100)

describe("two manager replicas under load", () => {
  it.skipIf(!hasPostgres())(
    needsPostgres(
      `soak (fake loopback cloud for compute, not OpenClaw): ${PEOPLE} people chatting, API claims and top-ups from both replicas for ${SOAK_SECONDS} s, one replica kill -9'ed and restarted: one answer per message, top-ups exactly once, no double claim, nothing left claiming`,
    ),
    { timeout: (SOAK_SECONDS + 900) * 1000 },
    async () => {
      const started = Date.now()
      const schema = `soak_${randomBytes(4).toString("hex")}`
      const dbUrl = schemaUrl(serverUrl!, schema)
      const dirs = [mkdtempSync(join(tmpdir(), "convos-soak-a-")), mkdtempSync(join(tmpdir(), "convos-soak-b-"))]
      const devnetDir = mkdtempSync(join(tmpdir(), "convos-soak-devnet-"))
      await query(serverUrl!, null, `CREATE SCHEMA ${schema}`)
      const cloud = await startFakeCloud({ provisionMs: 1_500 })
      const openRouter = await startFakeOpenRouter()
      const devnet = await startDevnetServer({ port: 0, dataDir: devnetDir })
      const scope = Effect.runSync(Scope.make())
      const botKey = generateIdentity().privateKey
      const everyReplica: Replica[] = []
      const env = (dataDir: string): Record<string, string> => {
        const e: Record<string, string> = {
          ...(process.env as Record<string, string>),
          DATABASE_URL: dbUrl,
          DEVNET_URL: devnet.url,
          DATA_DIR: dataDir,
          HOST: "127.0.0.1",
          PORT: "0",
          FAKE_CLOUD_URL: cloud.url(),
          POOL_API_KEY: API_KEY,
          POOL_TOKEN_SECRET: "soak-token-secret",
          MANAGER_PRIVATE_KEY: botKey,
          OPENROUTER_BASE_URL: openRouter.origin,
          OPENROUTER_MANAGEMENT_KEY: managementKey,
          POOL_MIN_IDLE: "20",
          POOL_MAX_TOTAL: "2000",
          POOL_TICK_INTERVAL: "2 seconds",
          POOL_REPLICA_GONE_AFTER: `${GONE_AFTER_S} seconds`,
          COMMANDS_PER_MINUTE: "1000",
          AGENTS_PER_OWNER: "100000",
          API_CLAIMS_PER_HOUR: "100000",
          LOG_LEVEL: process.env.SOAK_LOG_LEVEL ?? "warning",
        }
        for (const name of [
          "XMTP_ENV",
          "DEVNET_PORT",
          "COMPUTE",
          "RAILWAY_API_TOKEN",
          "RAILWAY_TOKEN",
          "TEST_DATABASE_URL",
        ])
          delete e[name]
        return e
      }
      try {
        // A first (it creates the bot's chats and invite tag in the database), then B: the same bot.
        const replicas: Replica[] = [await startReplica("A", env(dirs[0]!))]
        everyReplica.push(replicas[0]!)
        replicas.push(await startReplica("B", env(dirs[1]!)))
        everyReplica.push(replicas[1]!)
        const url = (i: number) => replicas[i % 2]!.url
        await waitFor("20 idle agents", async () => {
          const counts = await api(url(0), "GET", "/api/pool/counts")
          return ((counts?.body.idle as number) ?? 0) >= 20
        })

        const botInbox = identityFromPrivateKey(botKey).inboxId
        const people: Person[] = []
        for (let i = 0; i < PEOPLE; i += 5) {
          const joined = await Promise.all(
            Array.from({ length: Math.min(5, PEOPLE - i) }, (_, j) =>
              Scope.provide(scope)(joinManager(devnet.url, replicas[0]!.invite, botInbox, `p${i + j}`)).pipe(
                Effect.runPromise,
              ),
            ),
          )
          people.push(...joined)
        }
        // Each person's chat starts with the bot's welcome; the soak starts when all have it.
        await waitFor("every welcome", async () => people.every((p) => p.chat.some((r) => r.fromBot)))

        const soakStart = Date.now()
        const until = soakStart + SOAK_SECONDS * 1000
        let killedAt = Number.POSITIVE_INFINITY
        let killedIsGone = false
        let restartedAfterMs = 0

        // Claims through the API, alternating replicas; every third key goes to both at once.
        const claimKeys = new Map<string, { both: boolean; answers: Array<string | null> }>()
        const claimLoop = async () => {
          for (let n = 0; Date.now() < until; n++) {
            const key = `soak-claim-${n}`
            const both = n % 3 === 0
            const targets = both ? [0, 1] : [n % 2]
            const answers = await Promise.all(
              targets.map((t) => api(url(t), "POST", "/api/pool/claim", { agentName: `Api ${n}`, wait: true }, key)),
            )
            claimKeys.set(key, {
              both,
              answers: answers.map((a) => (a?.status === 200 ? (a.body.instanceId as string) : null)),
            })
            await sleep(1_000)
          }
        }

        // Top-ups: three agents claimed through the API before the soak; each round tops one of them up from both
        // replicas at once, with one key sent to both (applied once) or two keys (both applied, one after the other).
        const targets: Array<{ id: string; hash: string; startCents: number }> = []
        for (let n = 0; n < 3; n++) {
          const a = await api(
            url(n),
            "POST",
            "/api/pool/claim",
            { agentName: `Topped ${n}`, wait: true },
            `soak-t-${n}`,
          )
          expect(a?.status, JSON.stringify(a?.body)).toBe(200)
          const id = a!.body.instanceId as string
          const key = [...openRouter.api.keys.values()].find((k) => k.name.endsWith(id))!
          targets.push({ id, hash: key.hash, startCents: cents(key.limit!) })
        }
        const topUps = new Map<string, { target: number; cents: number; applied: boolean; both: boolean }>()
        const problems: string[] = []
        const topUp = async (i: number, key: string) => {
          const t = topUps.get(key)!
          const a = await api(
            url(i),
            "POST",
            `/api/pool/instances/${targets[t.target]!.id}/topup`,
            { amountUsd: t.cents / 100 },
            key,
          )
          if (a?.status === 200) {
            t.applied = true
            if (cents(a.body.amountUsd as number) !== t.cents) problems.push(`top-up ${key}: ${JSON.stringify(a.body)}`)
          } else if (a !== null && a.status < 500) problems.push(`top-up ${key}: ${a.status} ${JSON.stringify(a.body)}`)
        }
        const topUpLoop = async () => {
          for (let n = 0; Date.now() < until; n++) {
            const target = n % targets.length
            const amount = () => 1 + Math.floor(Math.random() * 200)
            if (n % 2 === 0) {
              const key = `soak-topup-${n}`
              topUps.set(key, { target, cents: amount(), applied: false, both: true })
              await Promise.all([topUp(0, key), topUp(1, key)])
            } else {
              const keys = [`soak-topup-${n}a`, `soak-topup-${n}b`]
              for (const key of keys) topUps.set(key, { target, cents: amount(), applied: false, both: false })
              await Promise.all(keys.map((key, i) => topUp(i, key)))
            }
            await sleep(300)
          }
        }

        // Midway: kill -9 replica A, start it again (its data dir, a new replica id and port).
        const killer = async () => {
          await sleep((SOAK_SECONDS * 1000) / 2)
          killedAt = Date.now()
          replicas[0]!.child.kill("SIGKILL")
          await exited(replicas[0]!.child)
          killedIsGone = true
          await sleep(2_000)
          replicas[0] = await startReplica("A (restarted)", env(dirs[0]!))
          everyReplica.push(replicas[0]!)
          restartedAfterMs = Date.now() - killedAt
        }

        // The killed replica claimed this message's answer (the ledger says so) and is dead: the rest never comes.
        // A /new it accepted is not abandoned: it is pending until a live replica sends its invite (or refusal).
        const abandoned = async (messageId: string) => {
          if (!killedIsGone) return false
          const [row] = await query<{ handledBy: string; answered: boolean; pending: boolean }>(
            serverUrl!,
            schema,
            "SELECT handled_by, answered_at IS NOT NULL AS answered, EXISTS (SELECT 1 FROM bot_pending_claims c WHERE c.message_id = $1) AS pending FROM processed_messages WHERE message_id = $1",
            [messageId],
          )
          return row?.answered === true && !row.pending && row.handledBy === everyReplica[0]!.replicaId
        }
        const monitor = async () => {
          while (Date.now() < until) {
            const c = await api(url(1), "GET", "/api/pool/counts")
            const busy = people.filter((p) => p.sent.at(-1)?.doneAt === null).length
            console.log(
              `[soak] t=${Math.round((Date.now() - soakStart) / 1000)}s counts=${JSON.stringify(c?.body)} waitingPeople=${busy} apiClaims=${claimKeys.size} topUps=${topUps.size}`,
            )
            await sleep(15_000)
          }
        }
        await Promise.all([
          monitor(),
          ...people.map((p) => Effect.runPromise(chatUntil(p, until, STEP_TIMEOUT_MS, abandoned))),
          claimLoop(),
          topUpLoop(),
          killer(),
        ])
        const soakMs = Date.now() - soakStart

        // What a replica did not answer (it was killed meanwhile) is asked again, with the same key, of a live one.
        for (const [key, c] of claimKeys) {
          if (c.answers.every((a) => a !== null)) continue
          const again = await api(url(1), "POST", "/api/pool/claim", { agentName: "again", wait: true }, key)
          c.answers.push(again?.status === 200 ? (again.body.instanceId as string) : `failed: ${again?.status}`)
        }
        for (const [key, t] of topUps) if (!t.applied) await topUp(1, key)

        // Everything settles: claims the killed replica left are resolved, messages it held are taken over.
        await waitFor("no instance left claiming", async () => {
          const [row] = await query<{ n: number }>(
            serverUrl!,
            schema,
            "SELECT count(*)::int AS n FROM instances WHERE status = 'claiming'",
          )
          return row!.n === 0
        })
        await waitFor("no /new left pending", async () => {
          const [row] = await query<{ n: number }>(
            serverUrl!,
            schema,
            "SELECT count(*)::int AS n FROM bot_pending_claims",
          )
          return row!.n === 0
        })
        await sleep(10_000)

        const messageIds = people.flatMap((p) => p.sent.map((s) => s.id))
        const ledger = await query<{ messageId: string; handledBy: string; answered: boolean; takenAt: Date }>(
          serverUrl!,
          schema,
          "SELECT message_id, handled_by, answered_at IS NOT NULL AS answered, processed_at AS taken_at FROM processed_messages WHERE message_id = ANY($1)",
          [messageIds],
        )
        const sentAt = new Map(people.flatMap((p) => p.sent.map((s) => [s.id, s.sentAt] as const)))
        const byReplica = new Map(everyReplica.map((r) => [r.replicaId, r.name]))
        const answeredBy: Record<string, number> = {}
        for (const row of ledger) {
          const who = byReplica.get(row.handledBy) ?? row.handledBy
          answeredBy[who] = (answeredBy[who] ?? 0) + 1
        }
        // 1. Every message: exactly one answer (a message the kill cut may have none, never two).
        const killedId = everyReplica[0]!.replicaId
        const handler = new Map(ledger.map((r) => [r.messageId, r.handledBy]))
        const takenOverIds = new Set(
          ledger
            .filter(
              (r) => sentAt.get(r.messageId)! < killedAt && r.takenAt.getTime() > killedAt && r.handledBy !== killedId,
            )
            .map((r) => r.messageId),
        )
        const verdicts = people.map((p) =>
          judge(
            p,
            killedAt,
            (id) => handler.get(id) === killedId,
            (id) => takenOverIds.has(id),
          ),
        )

        // 3. No double claim: one claim event per instance, one instance per key, each key answered with one instance.
        const doubleClaimed = await query<{ instanceId: string; n: number }>(
          serverUrl!,
          schema,
          "SELECT instance_id, count(*)::int AS n FROM events WHERE kind = 'claim' GROUP BY instance_id HAVING count(*) > 1",
        )
        const claimRows = await query<{ key: string; instanceId: string }>(
          serverUrl!,
          schema,
          "SELECT key, instance_id FROM claims",
        )
        const instanceOfKey = new Map(claimRows.map((r) => [r.key, r.instanceId]))
        const claimProblems: string[] = []
        for (const [key, c] of claimKeys) {
          const ids = new Set(c.answers.filter((a): a is string => a !== null && !a.startsWith("failed")))
          if (ids.size > 1) claimProblems.push(`${key} answered with ${[...ids].join(", ")}`)
          for (const id of ids)
            if (instanceOfKey.get(key) !== id)
              claimProblems.push(`${key}: answered ${id}, recorded ${instanceOfKey.get(key)}`)
        }
        const [{ claiming }] = (await query<{ claiming: number }>(
          serverUrl!,
          schema,
          "SELECT count(*)::int AS claiming FROM instances WHERE status = 'claiming'",
        )) as [{ claiming: number }]

        // 2. Every top-up applied exactly once: OpenRouter's limit is the start plus the sum, one journal row per key.
        const journal = await query<{ idempotencyKey: string; amountUsd: number; state: string }>(
          serverUrl!,
          schema,
          "SELECT idempotency_key, amount_usd, state FROM topups",
        )
        const journalled = new Map(journal.map((r) => [r.idempotencyKey.replace(/^api:soak:/, ""), r]))
        const limits = targets.map((t, i) => {
          const sum = [...topUps.values()].filter((u) => u.target === i).reduce((s, u) => s + u.cents, 0)
          return { expected: t.startCents + sum, actual: cents(openRouter.api.keys.get(t.hash)!.limit!) }
        })
        for (const [key, t] of topUps) {
          const row = journalled.get(key)
          if (!t.applied) problems.push(`top-up ${key} never answered 200`)
          if (row?.state !== "applied" || cents(row.amountUsd) !== t.cents)
            problems.push(`top-up ${key}: journal ${JSON.stringify(row)}`)
        }

        const counts = {
          seconds: Math.round(soakMs / 1000),
          people: PEOPLE,
          messages: verdicts.reduce((s, v) => s + v.messages, 0),
          answered: verdicts.reduce((s, v) => s + v.answers, 0),
          newClaims: verdicts.reduce((s, v) => s + v.claims.sent, 0),
          newInvites: verdicts.reduce((s, v) => s + v.claims.invites, 0),
          newRefusals: verdicts.reduce((s, v) => s + v.claims.refusals, 0),
          newWithoutAnswer: verdicts.flatMap((v) => v.claimsWithoutAnswer),
          cutByKill: verdicts.flatMap((v) => v.cutByKill),
          answeredBy,
          takenOverAfterKill: takenOverIds.size,
          rerunAnswers: verdicts.flatMap((v) => v.rerunAnswers),
          apiClaimKeys: claimKeys.size,
          apiClaimKeysAtBothReplicas: [...claimKeys.values()].filter((c) => c.both).length,
          claimsRecorded: claimRows.length,
          topUps: topUps.size,
          topUpKeysAtBothReplicas: [...topUps.values()].filter((t) => t.both).length,
          topUpUsd: [...topUps.values()].reduce((s, t) => s + t.cents, 0) / 100,
          limitsCents: limits,
          restartedAfterSeconds: Math.round(restartedAfterMs / 1000),
          totalSeconds: Math.round((Date.now() - started) / 1000),
        }
        console.log(`[soak] ${JSON.stringify(counts)}`)

        expect(verdicts.flatMap((v) => v.problems)).toEqual([])
        // Every /new sent got its invite or a clear refusal, whatever the kill cut.
        expect(counts.newWithoutAnswer).toEqual([])
        expect(ledger.filter((r) => !r.answered).map((r) => r.messageId)).toEqual([])
        expect(ledger).toHaveLength(messageIds.length)
        expect(doubleClaimed).toEqual([])
        expect(claimProblems).toEqual([])
        expect(claiming).toBe(0)
        expect(problems).toEqual([])
        expect(journal).toHaveLength(topUps.size)
        for (const l of limits) expect(l.actual).toBe(l.expected)
        expect(openRouter.api.violations).toEqual([])
        expect(killedAt).toBeLessThan(until)
      } catch (e) {
        for (const r of everyReplica)
          console.error(`[soak] replica ${r.name} output (last 4000 chars):\n${r.output().slice(-4000)}`)
        throw e
      } finally {
        for (const r of everyReplica) if (r.child.exitCode === null && !r.child.signalCode) r.child.kill("SIGTERM")
        await Promise.all(everyReplica.map((r) => Promise.race([exited(r.child), sleep(20_000)])))
        for (const r of everyReplica) if (r.child.exitCode === null && !r.child.signalCode) r.child.kill("SIGKILL")
        await Effect.runPromise(Scope.close(scope, Exit.void))
        await devnet.close()
        await openRouter.close()
        await cloud.close()
        await query(serverUrl!, null, `DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined)
        for (const d of [...dirs, devnetDir]) rmSync(d, { recursive: true, force: true })
      }
    },
  )
})
