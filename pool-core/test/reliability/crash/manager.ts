// The manager process of the crash test: the real pool (database, tick, claim) and the real pool API, with compute
// pointed at the fake cloud. Prints "READY <url>" when it serves.
import { serve } from "@hono/node-server"
import { Effect, Layer, ManagedRuntime } from "effect"
import { SqlClient } from "effect/sql"
import { Hono } from "hono"
import { PoolConfigLive } from "../../../config.ts"
import { DatabaseLive } from "../../../db/Database.ts"
import { AgentResourcesNone } from "../../../providers/AgentResources.ts"
import { PoolLive } from "../../../pool/PoolLive.ts"
import { RuntimeClientLive } from "../../../pool/RuntimeClientLive.ts"
import { makeApiApp } from "../../../api/index.ts"
import { fakeCloudCompute } from "./http-compute.ts"

const layer = PoolLive.pipe(
  Layer.provideMerge(
    Layer.mergeAll(
      fakeCloudCompute(process.env.FAKE_CLOUD_URL!),
      RuntimeClientLive,
      AgentResourcesNone,
      PoolConfigLive,
    ),
  ),
  Layer.provideMerge(DatabaseLive),
)
const runtime = ManagedRuntime.make(layer)
await runtime.runPromise(Effect.void)
// The test reads the claims table (idempotency key → instance) through the manager's own connection, on Postgres and
// on the embedded database alike. Only this test process serves it.
const app = new Hono()
app.get("/test/claims", async (c) =>
  c.json(
    await runtime.runPromise(
      Effect.flatMap(
        SqlClient.SqlClient,
        (sql) => sql<{ key: string; instanceId: string }>`SELECT key, instance_id FROM claims ORDER BY key`,
      ),
    ),
  ),
)
app.route("/", makeApiApp(runtime, { apiKey: "crash-key" }))
serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) =>
  console.log(`READY http://127.0.0.1:${info.port}`),
)
