import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Pool } from "../../pool/Pool.ts"
import { MemoryCloud } from "../../pool/testing.ts"
import { useSignedInApi } from "./server.ts"

// The admin dashboard's filter pills and buttons over real HTTP, signed in with the session cookie (no bearer key).

const server = useSignedInApi()

const page = async (query = "") => {
  const res = await fetch(`${server.api.base}/admin${query}`, { headers: { cookie: server.session } })
  expect(res.status).toBe(200)
  return await res.text()
}
/** [shortId, status] of every instance row of the dashboard. */
const rows = (html: string) =>
  [...html.matchAll(/<tr><td><code>([^<]*)<\/code><\/td><td>([a-z]+)<\/td>/g)].map((m) => [m[1]!, m[2]!] as const)
const action = (name: string, form: Record<string, string>) =>
  fetch(`${server.api.base}/admin/actions/${name}`, {
    method: "POST",
    headers: { cookie: server.session, origin: server.api.base },
    body: new URLSearchParams(form),
  })
const list = () => server.api.runtime.runPromise(Effect.flatMap(Pool, (p) => p.list({ limit: 1000 })))
const statusOf = async (id: string) => (await list()).find((i) => i.id === id)?.status ?? "gone"

describe("admin dashboard", () => {
  it("filter pills filter the list: ?status=idle shows only idle rows, ?status=crashed only crashed ones", async () => {
    await server.api.warm(2)
    await server.api.runtime.runPromise(
      Effect.flatMap(MemoryCloud, (c) => Effect.sync(() => c.failProvisions(1, "boom"))),
    )
    expect(
      (await server.api.post("/api/pool/claim", {}, { ...server.api.auth, "idempotency-key": "admin-crash" })).status,
    ).toBe(502)
    await server.api.post("/api/pool/replenish", { count: 1 }) // one more, left starting (no tick)

    const all = rows(await page())
    expect(new Set(all.map(([, s]) => s))).toEqual(new Set(["idle", "crashed", "starting"]))
    for (const status of ["idle", "crashed", "starting"] as const) {
      const html = await page(`?status=${status}`)
      const shown = rows(html)
      expect(shown.length, status).toBe(all.filter(([, s]) => s === status).length)
      expect(
        shown.every(([, s]) => s === status),
        status,
      ).toBe(true)
      expect(html).toContain(`<a href="/admin?status=${status}" class="on">`)
    }
    expect(rows(await page("?status=claimed"))).toEqual([])
    // An unknown status shows everything (the "all" pill is on).
    const unknown = await page("?status=bogus")
    expect(rows(unknown)).toHaveLength(all.length)
    expect(unknown).toContain('<a href="/admin" class="on">')
  })

  it("the Kill button kills that instance and says so", async () => {
    const idle = (await list()).find((i) => i.status === "idle")!
    const res = await action("kill", { id: idle.id })
    expect(res.status).toBe(200)
    expect(await res.text()).toContain(`Killed ${idle.id.slice(0, 8)}.`)
    expect(await statusOf(idle.id)).toBe("gone")
  })

  it("the Dismiss button removes a crashed instance; on an idle one it fails with the reason and changes nothing", async () => {
    await server.api.warm(1)
    const crashed = (await list()).find((i) => i.status === "crashed")!
    const ok = await action("dismiss", { id: crashed.id })
    expect(ok.status).toBe(200)
    expect(await ok.text()).toContain(`Dismissed ${crashed.id.slice(0, 8)}.`)
    expect(await statusOf(crashed.id)).toBe("gone")
    const idle = (await list()).find((i) => i.status === "idle")!
    const refused = await action("dismiss", { id: idle.id })
    expect(refused.status).toBe(400)
    expect(await refused.text()).toContain("only crashed or dead instances can be dismissed")
    expect(await statusOf(idle.id)).toBe("idle")
  })

  it("buttons need the server.session: without the cookie they answer 401 and change nothing", async () => {
    const idle = (await list()).find((i) => i.status === "idle")!
    const res = await fetch(`${server.api.base}/admin/actions/kill`, {
      method: "POST",
      headers: { origin: server.api.base },
      body: new URLSearchParams({ id: idle.id }),
    })
    expect(res.status).toBe(401)
    expect(await statusOf(idle.id)).toBe("idle")
  })

  it("form values are decoded with Schema: a bad count or id is a 400 that says what to enter, and nothing runs", async () => {
    const before = (await list()).length
    for (const count of ["abc", "0", "21", "2.5", "", "1e1", "-1", "99999999999999999999"]) {
      for (const name of ["replenish", "drain"]) {
        const res = await action(name, { count })
        expect(res.status, `${name} ${count}`).toBe(400)
        expect(await res.text()).toContain("enter a whole number from 1 to 20")
      }
    }
    for (const id of ["", "../etc", "x".repeat(65), "a b"]) {
      const res = await action("kill", { id })
      expect(res.status, id).toBe(400)
      expect(await res.text()).toContain("Invalid id")
    }
    expect((await list()).length).toBe(before)
    const good = await action("replenish", { count: " 2 " })
    expect(await good.text()).toContain("Started 2 instance(s).")
    expect((await list()).length).toBe(before + 2)
    expect((await action("nope", {})).status).toBe(404)
  })
})
