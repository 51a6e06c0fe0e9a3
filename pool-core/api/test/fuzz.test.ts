import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Pool } from "../../pool/Pool.ts"
import { type ApiServer, startApi } from "./server.ts"

// Generated body fuzz over real HTTP: hundreds of bad bodies (wrong types, missing and unknown fields, over-long
// strings, huge bodies with and without Content-Length, wrong content types, non-object JSON, broken JSON, bad
// UTF-8) against claim, replenish and drain. Each must get 400/413/415 with a JSON error naming the field (or
// "body"), never a 500, and none may create or claim an instance. Seeded, so a failure replays: FUZZ_SEED=<n>.

const SEED = Number(process.env.FUZZ_SEED ?? 20260801)
const CASES = 400

const mulberry32 = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const random = mulberry32(SEED)
const int = (n: number) => Math.floor(random() * n)
const pick = <A>(xs: ReadonlyArray<A>): A => xs[int(xs.length)]!
const text = (n: number) =>
  Array.from({ length: n }, () => pick(["a", "Z", "7", " ", "é", "🤖", "\u202e", "\\", '"', "<", "\n"])).join("")

type Endpoint = "claim" | "replenish" | "drain"
const strings: Record<string, number> = { agentName: 64, instructions: 8_000, templateSlug: 64, joinUrl: 4_096 }
const fields: Record<Endpoint, ReadonlyArray<string>> = {
  claim: Object.keys(strings),
  replenish: ["count"],
  drain: ["count"],
}
/** A body each endpoint accepts, to which one defect is added. */
const base = (e: Endpoint): Record<string, unknown> => (e === "claim" ? {} : { count: 1 })

const notString = () => pick<unknown>([int(1000), -1.5, true, false, null, [], [text(3)], {}, { a: 1 }, 1e308])
const badCount = () =>
  pick<unknown>([String(1 + int(20)), "", true, null, [], [1], {}, 0, 21, -1, 1.5, 1e308, -0.0001, 2 ** 53])

interface Case {
  readonly name: string
  readonly endpoint: Endpoint
  readonly body: string | Uint8Array
  readonly contentType?: string
  /** Send without Content-Length (a chunked stream). */
  readonly chunked?: boolean
  readonly status: 400 | 413 | 415
  readonly field: string
}

const json = (v: unknown) => JSON.stringify(v)
const generators: ReadonlyArray<(e: Endpoint) => Case> = [
  (e) => {
    const f = pick(fields[e])
    const v = f === "count" ? badCount() : notString()
    return {
      name: `wrong type ${f}=${json(v)}`,
      endpoint: e,
      body: json({ ...base(e), [f]: v }),
      status: 400,
      field: f,
    }
  },
  (e) => {
    const f = pick(
      fields[e].filter((x) => x !== "count").length ? fields[e].filter((x) => x !== "count") : ["agentName"],
    )
    const over = (strings[f] ?? 64) + 1 + int(400)
    return {
      name: `too long ${f} (${over})`,
      endpoint: "claim",
      body: json({ [f]: "x".repeat(over) }),
      status: 400,
      field: f,
    }
  },
  () => ({ name: "missing count", endpoint: "replenish", body: pick(["{}", "", "   "]), status: 400, field: "count" }),
  (e) => {
    const key = pick([
      "__proto__",
      "constructor",
      "toString",
      "count ",
      "AgentName",
      'a"b',
      "🤖",
      `x${int(1e6)}`,
      text(1 + int(12)).replace(/\s/g, "_") || "k",
    ])
    const clean = fields[e].includes(key) ? `${key}_` : key
    return {
      name: `unknown field ${json(clean)}`,
      endpoint: e,
      body: `{${json(base(e)).slice(1, -1)}${e === "claim" ? "" : ","}${json(clean)}:${json(notString())}}`,
      status: 400,
      field: clean,
    }
  },
  (e) => {
    const size = 64 * 1024 + 1 + int(200 * 1024)
    const f = e === "claim" ? "instructions" : "count"
    return {
      name: `huge body ${size} B`,
      endpoint: e,
      body: json({ ...base(e), [f]: "y".repeat(size) }),
      chunked: random() < 0.5,
      status: 413,
      field: "body",
    }
  },
  (e) => ({
    name: "wrong content type",
    endpoint: e,
    body: json(base(e)),
    contentType: pick([
      "text/plain",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "application/jsonp",
      "text/json",
      "",
    ]),
    status: 415,
    field: "body",
  }),
  (e) => ({
    name: "not an object",
    endpoint: e,
    body: json(pick<unknown>([[], [base(e)], 1, "count", null, true, `"${text(5)}"`])),
    status: 400,
    field: "body",
  }),
  (e) => {
    const good = json({ ...base(e), agentName: text(5) })
    const broken = pick([
      good.slice(0, 1 + int(good.length - 1)),
      `${good}}`,
      `{'count': 1}`,
      "{count: 1}",
      "nul",
      "[1,]",
      '{"a":}',
      "\u0000",
      "[".repeat(5000),
    ])
    return {
      name: `broken JSON ${json(broken.slice(0, 20))}`,
      endpoint: e,
      body: broken,
      status: 400,
      field: e === "replenish" && broken.trim() === "" ? "count" : "body",
    }
  },
  (e) => ({
    name: "bad UTF-8",
    endpoint: e,
    body: new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
    status: 400,
    field: "body",
  }),
]

const generate = (): ReadonlyArray<Case> =>
  Array.from({ length: CASES }, () => {
    const c = pick(generators)(pick<Endpoint>(["claim", "replenish", "drain"]))
    // A truncated body may still parse (e.g. "{}" of a claim): such a case is valid input, not a fuzz case; re-roll.
    return c
  }).filter(
    (c) =>
      !(
        c.name.startsWith("broken JSON") &&
        typeof c.body === "string" &&
        (() => {
          try {
            JSON.parse(c.body)
            return true
          } catch {
            return c.body.trim() === ""
          }
        })()
      ),
  )

let api: ApiServer
beforeAll(async () => {
  api = await startApi()
  await api.warm(1) // an idle agent a wrongly accepted claim would take
})
afterAll(async () => {
  await api?.close()
})

const send = (c: Case) => {
  const headers: Record<string, string> = {
    authorization: api.auth.authorization!,
    "idempotency-key": `fuzz-${int(1e9)}`,
  }
  if (c.contentType !== "") headers["content-type"] = c.contentType ?? "application/json"
  const bytes = typeof c.body === "string" ? new TextEncoder().encode(c.body) : c.body
  const body = c.chunked
    ? new ReadableStream<Uint8Array>({
        start: (ctl) => {
          for (let i = 0; i < bytes.length; i += 8192) ctl.enqueue(bytes.subarray(i, i + 8192))
          ctl.close()
        },
      })
    : bytes
  return fetch(`${api.base}/api/pool/${c.endpoint}`, { method: "POST", headers, body, duplex: "half" } as RequestInit)
}

describe("body fuzz", () => {
  it(`${CASES} generated bad bodies: each 400/413/415 with a JSON error naming the field, never 500, nothing changed`, async () => {
    const before = await api.runtime.runPromise(Effect.flatMap(Pool, (p) => p.counts))
    const cases = generate()
    expect(cases.length).toBeGreaterThan(CASES * 0.9)
    const kinds = new Set<string>()
    for (let i = 0; i < cases.length; i += 8) {
      await Promise.all(
        cases.slice(i, i + 8).map(async (c) => {
          const res = await send(c)
          const label = `seed ${SEED}: ${c.endpoint} ${c.name}`
          expect(res.status, label).toBe(c.status)
          expect(res.headers.get("content-type"), label).toContain("application/json")
          const body = (await res.json()) as { error?: unknown; field?: unknown }
          expect(typeof body.error === "string" && body.error.length > 0, label).toBe(true)
          expect(body.field, label).toBe(c.field)
          if (c.status === 400 && c.field !== "body") expect(body.error as string, label).toContain(c.field)
          kinds.add(c.name.split(" ").slice(0, 2).join(" "))
        }),
      )
    }
    expect(kinds.size).toBeGreaterThanOrEqual(9) // every generator ran
    const after = await api.runtime.runPromise(Effect.flatMap(Pool, (p) => p.counts))
    expect(after).toEqual(before)
  })
})
