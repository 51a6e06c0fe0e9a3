import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, layer } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Layer, Option } from "effect"
import { serve } from "@hono/node-server"
import {
  AgentResourcesNone,
  makeRuntimeClient,
  Pool,
  PoolLive,
  poolConfigLayer,
  RuntimeClient,
} from "@convos-agents/pool-core"
import { makeApiApp } from "@convos-agents/pool-core/api"
import { MemoryCloud, memoryCloudLayer } from "@convos-agents/pool-core/testing/pool"
import { TestDatabase } from "@convos-agents/pool-core/testing/db"
import {
  DevnetMessaging,
  DevnetServer,
  generateIdentity,
  Messaging,
  type MessagingClient,
} from "@convos-agents/messaging"
import { DevnetTest } from "@convos-agents/messaging/devnet/testing"
import {
  createInviteSlug,
  decodeMetadata,
  decryptImage,
  encodeMetadata,
  generateImageKey,
  joinByInvite,
  latestProfiles,
  randomTag,
  serveJoinRequests,
} from "@convos-agents/messaging/convos"
import { ManagerBotLive } from "../../manager-bot/src/ManagerBot.ts"
import { admin, openManagerChat, withBotTables } from "../../manager-bot/test/helpers.ts"
import { createConvosRuntime, type ConvosRuntime } from "../../runtime/src/plugin/convosRuntime.ts"

// /avatar through the real parts: the manager bot and the pool on real SQL, the pool API on loopback (where the agent
// uploads its encrypted copies and members download them), and a REAL agent runtime (the instance HTTP contract and
// ConvosAgent on the devnet; no OpenClaw, which has nothing to do with pictures). Compute and health are the in-memory
// cloud's. The owner sets a picture from a loopback image server; members of the agent's conversation read the
// profile's EncryptedProfileImageRef, download it from the served URL and decrypt it with the group's image key to the
// original bytes. A stranger, a non-image, an oversized file and private-network URLs are refused, each with its line,
// and none of them reaches the agent (nor, for private addresses, the network). A picture that misses conversations (the
// pool's upload endpoint closed; a group without image key whose details only its admin may change) is answered with
// how many it reached and what to do, never "Done".

const png = Uint8Array.from([
  0x89,
  0x50,
  0x4e,
  0x47,
  0x0d,
  0x0a,
  0x1a,
  0x0a,
  ...Array.from({ length: 6_000 }, (_, i) => (i * 7 + 3) % 256),
])
/** One byte over the 2 MB cap (LIMITS.avatarBytes). */
const huge = new Uint8Array(2 * 1024 * 1024 + 1)
huge.set(png.subarray(0, 8))

interface ImageServer {
  readonly port: number
  readonly hits: Array<string>
  readonly close: () => Promise<void>
}
const serveFiles = (files: Record<string, { body: Uint8Array; type: string; location?: () => string }>) =>
  new Promise<ImageServer>((resolve) => {
    const hits: Array<string> = []
    const server: Server = createServer((req, res) => {
      hits.push(req.url ?? "")
      const f = files[req.url ?? ""]
      if (!f) {
        res.statusCode = 404
        res.end()
        return
      }
      if (f.location) {
        res.statusCode = 302
        res.setHeader("location", f.location())
        res.end()
        return
      }
      res.setHeader("content-type", f.type)
      res.end(Buffer.from(f.body))
    })
    server.listen(0, "127.0.0.1", () =>
      resolve({
        port: (server.address() as AddressInfo).port,
        hits,
        close: () => new Promise((r) => server.close(() => r())),
      }),
    )
  })

const images = await serveFiles({
  "/scout.png": { body: png, type: "image/png" },
  "/notes.txt": { body: new TextEncoder().encode("just some text, not a picture\n".repeat(20)), type: "image/png" },
  "/huge.png": { body: huge, type: "image/png" },
  "/other.png": { body: png.map((b, i) => (i < 8 ? b : b ^ 0x5a)), type: "image/png" },
  // An allowed host that redirects into the internal network: the hop is checked like the first URL.
  "/moved.png": { body: png, type: "image/png", location: () => `http://127.0.0.1:${inner.port}/scout.png` },
})
// A server on the "internal network" (loopback, not in AVATAR_FETCH_ALLOW_PRIVATE): nothing may ever reach it.
const inner = await serveFiles({ "/scout.png": { body: png, type: "image/png" } })

const dataDir = mkdtempSync(join(tmpdir(), "avatar-e2e-"))
const agentEnv: NodeJS.ProcessEnv = {}
let convos: ConvosRuntime | null = null
let runtimeBase = ""

/**
 * The in-memory cloud's runtime client, with provision, update, join and invite rotation going to one real agent
 * runtime (started at the first provision with that instance's id and token, as compute would start it).
 */
const realAgentRuntime = Layer.effect(
  RuntimeClient,
  Effect.gen(function* () {
    const memory = yield* RuntimeClient
    const devnet = yield* DevnetServer
    const live = makeRuntimeClient({ healthTimeout: Duration.seconds(5), provisionTimeout: Duration.seconds(90) })
    let server: Server | null = null
    yield* Effect.addFinalizer(() =>
      Effect.promise(async () => {
        await new Promise<void>((r) => (server ? server.close(() => r()) : r()))
        await convos?.stop()
      }),
    )
    const ensure = (url: string, token: string) =>
      Effect.promise(async () => {
        if (convos) return
        Object.assign(agentEnv, {
          OPENCLAW_STATE_DIR: mkdtempSync(join(tmpdir(), "avatar-agent-")),
          INSTANCE_ID: url.replace("memory://", ""),
          INSTANCE_TOKEN: token,
          CONVOS_JOIN_WAIT_MS: "15000",
        })
        convos = createConvosRuntime({
          env: agentEnv,
          messaging: DevnetMessaging.layerFromUrl(devnet.url),
          rewriteConfig: false,
          dispatch: async () => ({ delivered: 0, silent: true }),
        })
        const c = convos
        server = createServer((req, res) => {
          void c.handle(req, res).then((handled) => {
            if (!handled) {
              res.statusCode = 404
              res.end("{}")
            }
          })
        })
        await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r))
        runtimeBase = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
        await c.start()
      })
    return RuntimeClient.of({
      ...memory,
      provision: (url, token, body) =>
        ensure(url, token).pipe(
          Effect.andThen(memory.provision(url, token, body)),
          Effect.andThen(Effect.suspend(() => live.provision(runtimeBase, token, body))),
        ),
      update: (url, token, body) =>
        memory
          .update(url, token, body)
          .pipe(Effect.andThen(Effect.suspend(() => live.update(runtimeBase, token, body)))),
      join: (_url, token, inviteUrl) => Effect.suspend(() => live.join(runtimeBase, token, inviteUrl)),
      rotateInvite: (_url, token) => Effect.suspend(() => live.rotateInvite(runtimeBase, token)),
    })
  }),
)

const appLayer = ManagerBotLive.pipe(
  Layer.provideMerge(PoolLive),
  Layer.provideMerge(realAgentRuntime),
  Layer.provideMerge(memoryCloudLayer()),
  Layer.provideMerge(AgentResourcesNone),
  Layer.provideMerge(
    poolConfigLayer({
      dataDir,
      provisionTimeout: Duration.seconds(90),
      avatarFetch: {
        allowPrivate: [`127.0.0.1:${images.port}`],
        maxBytes: 2 * 1024 * 1024,
        timeout: Duration.seconds(20),
      },
    }),
  ),
  Layer.provideMerge(Layer.mergeAll(withBotTables(TestDatabase), DevnetTest)),
  Layer.provide(
    ConfigProvider.layer(
      ConfigProvider.fromEnv({
        env: { DATA_DIR: dataDir, ADMIN_INBOX_IDS: admin.inboxId, ALERT_INTERVAL_MS: "600000" },
      }),
    ),
  ),
)

/** What `member` sees of `agentInbox`'s profile in the conversation: the name, and the picture decrypted. */
const seenProfile = (member: MessagingClient, conversationId: string, agentInbox: string) =>
  Effect.gen(function* () {
    const messages = yield* member.messages(conversationId, { limit: 500 })
    const profile = latestProfiles(messages).get(agentInbox)
    if (!profile) return { name: null, image: null, url: null }
    if (!profile.image) return { name: profile.name, image: null, url: null }
    const group = yield* member.conversation(conversationId)
    const key = decodeMetadata(Option.getOrThrow(group).appData)?.imageEncryptionKey
    assert.isDefined(key, "the group's metadata holds the image key")
    const res = yield* Effect.promise(() => fetch(profile.image!.url))
    assert.strictEqual(res.status, 200, profile.image.url)
    const ciphertext = new Uint8Array(yield* Effect.promise(() => res.arrayBuffer()))
    return { name: profile.name, image: decryptImage(ciphertext, key!, profile.image), url: profile.image.url }
  })

/** Polls until the member sees a profile that satisfies `ok` (profile updates arrive asynchronously). */
const waitForProfile = (
  member: MessagingClient,
  conversationId: string,
  agentInbox: string,
  ok: (p: { name: string | null; image: Uint8Array | null; url: string | null }) => boolean,
) =>
  Effect.gen(function* () {
    for (let i = 0; ; i++) {
      const p = yield* seenProfile(member, conversationId, agentInbox)
      if (ok(p)) return p
      if (i > 300)
        return yield* Effect.fail(
          new Error(`profile never matched; last seen ${JSON.stringify({ ...p, image: p.image?.length })}`),
        )
      yield* Effect.sleep(100)
    }
  })

layer(appLayer, { timeout: "300 seconds", excludeTestServices: true })(
  "/avatar: the agent's Convos profile picture",
  (it) => {
    it.effect("owner sets it; members download and decrypt it; refusals each say what to do and reach nothing", () =>
      Effect.gen(function* () {
        const pool = yield* Pool
        const cloud = yield* MemoryCloud
        const messaging = yield* Messaging
        // The pool API on loopback: the agent's uploads (instance token) and the public /avatars/<id>.
        const context = yield* Effect.context<never>()
        const runner = {
          runPromiseExit: (effect: Effect.Effect<unknown, unknown, never>, o?: { signal?: AbortSignal }) =>
            Effect.runPromiseExit(Effect.provideContext(effect, context), o),
        } as unknown as Parameters<typeof makeApiApp>[0]
        const app = makeApiApp(runner, { apiKey: null, trustProxy: 0 })
        const api = yield* Effect.acquireRelease(
          Effect.promise(
            () =>
              new Promise<{ base: string; close: () => Promise<void> }>((resolve) => {
                const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) =>
                  resolve({
                    base: `http://127.0.0.1:${info.port}`,
                    close: () => new Promise((r) => s.close(() => r())),
                  }),
                )
              }),
          ),
          (a) => Effect.promise(a.close),
        )
        agentEnv.POOL_SERVICES_URL = api.base

        yield* pool.replenish(1)
        yield* pool.tick
        const ada = yield* openManagerChat("Ada")
        yield* ada.say("/new")
        yield* ada.say("Scout")
        const [, ready] = yield* ada.say("You are Scout. Be brief.", 2)
        assert.include(ready, "Scout is ready")
        const link = /(https?:\/\/\S+\/v2\?i=\S+)/.exec(ready)![1]!
        const [agent] = yield* pool.list({ claimedBy: ada.id.inboxId })
        const memoryRuntime = cloud.instances.get(agent!.providerRef!)!

        // Bea is in the agent's conversation before the picture is set.
        const beaId = generateIdentity()
        const bea = yield* messaging.connect(beaId, { label: "Bea" })
        const joined = yield* joinByInvite(bea, beaId, link, {
          profile: { name: "Bea", kind: "human" },
          timeoutMs: 30_000,
          pollMs: 100,
        })
        assert.strictEqual(joined._tag, "Joined")
        const conversationId = (joined as { conversationId: string }).conversationId
        let agentInbox = ""
        for (let i = 0; i < 300 && !agentInbox; i++) {
          const greeting = (yield* bea.messages(conversationId)).find(
            (m) => m.text !== null && m.senderInboxId !== beaId.inboxId,
          )
          agentInbox = greeting?.senderInboxId ?? ""
          if (!agentInbox) yield* Effect.sleep(100)
        }
        assert.notStrictEqual(agentInbox, "", "the agent greeted Bea")
        assert.isNull((yield* seenProfile(bea, conversationId, agentInbox)).image, "no picture yet")

        // Refusals first: each is one line, none reaches the agent, none touches the internal server.
        const eve = yield* openManagerChat("Eve")
        const hitsBefore = images.hits.length
        assert.include(
          (yield* eve.say(`/avatar Scout http://127.0.0.1:${images.port}/scout.png`))[0],
          "You have no agents yet",
        )
        assert.include(
          (yield* eve.say(`/avatar ${agent!.id.slice(0, 8)} http://127.0.0.1:${images.port}/scout.png`))[0],
          "You have no agents yet",
        )
        assert.strictEqual(images.hits.length, hitsBefore, "a stranger's /avatar fetches nothing")
        const [notImage] = yield* ada.say(`/avatar Scout http://127.0.0.1:${images.port}/notes.txt`)
        assert.strictEqual(
          notImage,
          "That link is not a PNG, JPEG, WebP or GIF picture; send a direct link to the image file itself.",
        )
        const [tooBig] = yield* ada.say(`/avatar Scout http://127.0.0.1:${images.port}/huge.png`)
        assert.strictEqual(
          tooBig,
          "That picture is larger than 2 MB; send a smaller one (a 512×512 PNG or JPEG is plenty).",
        )
        for (const host of [
          `127.0.0.1:${inner.port}`,
          `localhost:${inner.port}`,
          "169.254.169.254",
          "10.0.0.7:8080",
          "[::1]:80",
        ]) {
          const [line] = yield* ada.say(`/avatar Scout http://${host}/scout.png`)
          assert.match(
            line!,
            /^That link points into a private network \(.+\), which I do not fetch from; send a link to a picture on the public web\.$/,
            host,
          )
        }
        const [moved] = yield* ada.say(`/avatar Scout http://127.0.0.1:${images.port}/moved.png`)
        assert.strictEqual(
          moved,
          "That link points into a private network (127.0.0.1), which I do not fetch from; send a link to a picture on the public web.",
        )
        assert.deepStrictEqual(inner.hits, [], "no request reached the internal network")
        assert.strictEqual(
          (yield* ada.say("/avatar Scout ftp://example.com/a.png"))[0],
          "Only http and https image links work (got ftp:); send a https:// link to the picture.",
        )
        assert.deepStrictEqual(memoryRuntime.updates ?? [], [], "nothing refused reached the agent")

        // The owner sets it: every member of the agent's conversation downloads and decrypts the original bytes.
        const [done] = yield* ada.say(`/avatar Scout http://127.0.0.1:${images.port}/scout.png`)
        assert.strictEqual(
          done,
          "Done: Scout shows the new picture (PNG, 6 KB) in its conversations, and in the ones it joins later.",
        )
        const seen = yield* waitForProfile(bea, conversationId, agentInbox, (p) => p.image !== null)
        assert.deepStrictEqual(seen.image, png, "Bea decrypts the picture to the original bytes")
        assert.strictEqual(seen.name, "Scout")
        assert.isTrue(seen.url!.startsWith(`${api.base}/avatars/`), seen.url!)
        assert.strictEqual(memoryRuntime.updates?.length, 1)

        // A rename keeps the picture (a ProfileUpdate replaces the whole profile).
        assert.include((yield* ada.say("/name Scout Scouty"))[0], "Scouty")
        const renamed = yield* waitForProfile(bea, conversationId, agentInbox, (p) => p.name === "Scouty")
        assert.deepStrictEqual(renamed.image, png, "the renamed profile still has the picture")

        // A newcomer (who cannot read older messages) gets the profile with the picture when they join, also by a
        // new invite (a new invite rewrites the group's metadata: its image key must stay).
        const [rotated] = yield* ada.say("/invite Scouty new")
        const newLink = /(https?:\/\/\S+\/v2\?i=\S+)/.exec(rotated!)![1]!
        assert.notStrictEqual(newLink, link)
        const deeId = generateIdentity()
        const dee = yield* messaging.connect(deeId, { label: "Dee" })
        assert.strictEqual(
          (yield* joinByInvite(dee, deeId, newLink, {
            profile: { name: "Dee", kind: "human" },
            timeoutMs: 30_000,
            pollMs: 100,
          }))._tag,
          "Joined",
        )
        assert.deepStrictEqual(
          (yield* waitForProfile(dee, conversationId, agentInbox, (p) => p.image !== null)).image,
          png,
        )

        // A new conversation: Cy's group (created with its image key, as the Convos app does), joined by /join.
        const cyId = generateIdentity()
        const cy = yield* messaging.connect(cyId, { label: "Cy" })
        const tag = randomTag()
        const cyKey = generateImageKey()
        const group = yield* cy.createGroup([], {
          name: "Cy's trip",
          appData: encodeMetadata({ tag, imageEncryptionKey: cyKey }),
        })
        yield* serveJoinRequests(cy, cyId).pipe(Effect.forkScoped)
        const cyLink = `https://dev.convos.org/v2?i=${createInviteSlug(cyId, { conversationId: group.id, tag, name: "Cy's trip" })}`
        const [joinedReply] = yield* ada.say(`/join Scouty ${cyLink}`)
        assert.notInclude(joinedReply!, "did not work", joinedReply!)
        const inCy = yield* waitForProfile(cy, group.id, agentInbox, (p) => p.image !== null)
        assert.deepStrictEqual(inCy.image, png, "the picture is encrypted with Cy's group key there")
        assert.notStrictEqual(inCy.url, renamed.url, "each conversation has its own encrypted copy")

        // The pool's upload route cannot be reached (a closed port where the agent uploads): the picture reaches none
        // of the agent's conversations, and the owner hears that with what to do, not "Done".
        const closed = yield* Effect.promise(
          () =>
            new Promise<number>((resolve) => {
              const s = createServer()
              s.listen(0, "127.0.0.1", () => {
                const port = (s.address() as AddressInfo).port
                s.close(() => resolve(port))
              })
            }),
        )
        agentEnv.POOL_SERVICES_URL = `http://127.0.0.1:${closed}`
        const [failed] = yield* ada.say(`/avatar Scouty http://127.0.0.1:${images.port}/other.png`)
        assert.strictEqual(
          failed,
          "Not done: the new picture reached 0 of your agent's 2 conversations; uploading it for the others failed. Try /avatar again in a few minutes.",
        )
        // The name stays (the profile went out without the picture), and once the pool is back a retry is "Done".
        assert.strictEqual(
          (yield* waitForProfile(cy, group.id, agentInbox, (p) => p.image === null)).name,
          "Scouty",
          "the failed picture did not cost the name",
        )
        agentEnv.POOL_SERVICES_URL = api.base
        assert.strictEqual(
          (yield* ada.say(`/avatar Scouty http://127.0.0.1:${images.port}/other.png`))[0],
          "Done: Scouty shows the new picture (PNG, 6 KB) in its conversations, and in the ones it joins later.",
        )

        // Dan's group has no image key yet and only its admin (Dan) may change its details: the picture reaches the
        // other two conversations, and the owner hears why not the third and what would help.
        const danId = generateIdentity()
        const dan = yield* messaging.connect(danId, { label: "Dan" })
        const danTag = randomTag()
        const danGroup = yield* dan.createGroup([], { name: "Dan's club", appData: encodeMetadata({ tag: danTag }) })
        yield* serveJoinRequests(dan, danId).pipe(Effect.forkScoped)
        const danLink = `https://dev.convos.org/v2?i=${createInviteSlug(danId, { conversationId: danGroup.id, tag: danTag, name: "Dan's club" })}`
        const [danJoined] = yield* ada.say(`/join Scouty ${danLink}`)
        assert.notInclude(danJoined!, "did not work", danJoined!)
        yield* waitForProfile(dan, danGroup.id, agentInbox, (p) => p.name === "Scouty")
        const [partly] = yield* ada.say(`/avatar Scouty http://127.0.0.1:${images.port}/scout.png`)
        assert.strictEqual(
          partly,
          "Not done: the new picture reached 2 of your agent's 3 conversations; in the others it is not allowed to change the conversation's details, which a picture needs. Ask an admin there to allow it, then send /avatar again.",
        )
        assert.deepStrictEqual((yield* waitForProfile(cy, group.id, agentInbox, (p) => p.image !== null)).image, png)
        assert.strictEqual((yield* seenProfile(dan, danGroup.id, agentInbox)).image, null)
      }),
    )
  },
)
