// One manager replica of the two-replica soak test: `npm start`'s composition (server/src/compose.ts AppLayer: database,
// messaging, pool with its tick, provider resources, the manager bot, the HTTP API and web) with one change: compute
// is the loopback fake cloud the test runs (FAKE_CLOUD_URL; pool-core/test/reliability/crash/fake-cloud.ts) instead of
// real OpenClaw agents. Database (DATABASE_URL), devnet (DEVNET_URL), bot key (MANAGER_PRIVATE_KEY) and OpenRouter
// (OPENROUTER_BASE_URL) come from the environment, shared with the other replica.
// Prints "READY <http url> <replica id> <manager invite>" once it serves.
import { Effect, ManagedRuntime } from "effect"
import { Pool } from "@convos-agents/pool-core"
import { Messaging } from "@convos-agents/messaging"
import { ManagerBot } from "@convos-agents/manager-bot"
import { AppLayer } from "../../src/compose.ts"
import { httpSettings, startHttp } from "../../src/http.ts"
import { fakeCloudCompute } from "../../../pool-core/test/reliability/crash/http-compute.ts"

const runtime = ManagedRuntime.make(AppLayer({ compute: fakeCloudCompute(process.env.FAKE_CLOUD_URL!) }))
const started = await runtime.runPromise(
  Effect.gen(function* () {
    return { network: (yield* Messaging).network, bot: yield* ManagerBot, replica: (yield* Pool).replica.id }
  }),
)
const http = await startHttp(
  runtime,
  { ...started.bot, network: started.network, compute: "fake-cloud" },
  process.env.POOL_API_KEY!,
  await Effect.runPromise(httpSettings),
)
console.log(`READY ${http.url} ${started.replica} ${started.bot.inviteUrl()}`)
const stop = () => void http.close().then(() => runtime.dispose().then(() => process.exit(0)))
process.once("SIGTERM", stop)
process.once("SIGINT", stop)
