import { Effect, Exit, Option } from "effect"
import { Hono } from "hono"
import { Pool } from "../../pool/Pool.ts"
import type { Run } from "../http.ts"

// GET /avatars/<id>: agents' profile pictures, each encrypted for one conversation (pool/avatar/avatars.ts). Public
// like the image hosts Convos uses: the bytes are AES-GCM ciphertext, readable only with the key in that group's
// metadata, and the id (144 random bits) is known only from a profile in that group.

const BLOB_ID = /^[A-Za-z0-9_-]{1,64}$/

export const avatarRoutes = (o: { readonly run: Run }) => {
  const app = new Hono()
  app.get("/avatars/:id", async (c) => {
    const id = c.req.param("id")
    if (!BLOB_ID.test(id)) return c.text("Not found", 404)
    const exit = await o.run(
      Effect.flatMap(Effect.service(Pool), (pool) => pool.avatarBlob(id)),
      c.req.raw.signal,
    )
    if (Exit.isFailure(exit)) return c.text("The picture store is unavailable; try again in a minute.", 503)
    if (Option.isNone(exit.value)) return c.text("Not found", 404)
    return c.body(exit.value.value as Uint8Array<ArrayBuffer>, 200, {
      "content-type": "application/octet-stream",
      // An id names one upload for good (a newer picture gets a new id), so caches may keep it.
      "cache-control": "public, max-age=31536000, immutable",
    })
  })
  return app
}
