import { readFileSync } from "node:fs"
import { checkedByContract, type OpenApiDocument, openApiContract, type Violation } from "../http/openapi.ts"
import type { RecordedRequest, Reply } from "../http/testing.ts"

// Loopback stand-in for the provider API (tests only): answers like the real one, checks auth on every request, and
// checks every request (and its own answers) against Telnyx's published API reference (./openapi.json).

export const telnyxReference = JSON.parse(
  readFileSync(new URL("./openapi.json", import.meta.url), "utf8"),
) as OpenApiDocument
const contract = openApiContract(telnyxReference)

/** Telnyx's error answers: `{ errors: [{ code, title, detail }] }`; an invalid parameter is a 422 (code 10015). */
const refuse = (v: Violation): Reply =>
  v.kind === "invalid request"
    ? {
        status: 422,
        json: { errors: v.message.split("; ").map((detail) => ({ code: "10015", title: "Bad Request", detail })) },
      }
    : {
        status: v.kind === "unknown path" ? 404 : 405,
        json: { errors: [{ code: "10005", title: "Resource not found", detail: v.message }] },
      }

export const apiKey = "KEYtelnyx_secret_0001"
export const profile = "mp-123"

export interface TelnyxFakeOptions {
  /** The first N orders are refused with 422 (someone else bought the number). */
  readonly conflictsFirst?: number
  /** A newly ordered number is unknown to /phone_numbers (404) for its first N messaging PATCHes: the order propagating. */
  readonly propagationPatches?: number
}

interface FakeOrder {
  id: string
  status: string
  customer_reference: string | null
  /** Omitted in the answer when absent: Telnyx lists orders without `phone_numbers` too. */
  phone_numbers?: Array<{ phone_number: string }>
}

/** Telnyx v2 numbers API: every request must carry the key; orders must name the messaging profile. */
export const telnyxApi = (options: TelnyxFakeOptions = {}) => {
  let next = 0
  let conflicts = options.conflictsFirst ?? 0
  const ordered: Array<string> = []
  const orders: Array<FakeOrder> = []
  /** Numbers the account owns (ordered here, or `own`ed by a test), with their messaging profile ("" = none). */
  const messaging = new Map<string, string>()
  /** PATCHes still answered 404 per number (its order propagating). */
  const propagating = new Map<string, number>()
  const own = (phone: string) => void messaging.set(phone, messaging.get(phone) ?? "")
  const handle = (r: RecordedRequest): Reply => {
    if (r.headers.authorization !== `Bearer ${apiKey}`)
      return { status: 401, json: { errors: [{ code: "10009", title: "Authentication failed" }] } }
    const url = new URL(r.path, "http://x")
    if (r.method === "GET" && url.pathname === "/available_phone_numbers") {
      if (
        url.searchParams.get("filter[country_code]") !== "US" ||
        !url.searchParams.getAll("filter[features]").includes("sms") ||
        url.searchParams.get("filter[limit]") !== "20"
      )
        return { status: 400, json: { errors: [{ title: "bad filter" }] } }
      return {
        json: {
          data: [0, 1, 2].map(() => ({
            record_type: "available_phone_number",
            phone_number: `+1555000${String(++next).padStart(4, "0")}`,
          })),
          meta: { total_results: 3, best_effort_results: 0 },
        },
      }
    }
    if (r.method === "POST" && url.pathname === "/number_orders") {
      const b = r.body as {
        phone_numbers: Array<{ phone_number: string }>
        messaging_profile_id: string
        customer_reference?: string
      }
      if (b.messaging_profile_id !== profile || b.phone_numbers?.length !== 1)
        return { status: 400, json: { errors: [{ title: "bad order" }] } }
      if (conflicts-- > 0) return { status: 422, json: { errors: [{ title: "Number is no longer available" }] } }
      const phone = b.phone_numbers[0]!.phone_number
      if (ordered.includes(phone))
        return { status: 422, json: { errors: [{ title: "Number is no longer available" }] } }
      ordered.push(phone)
      own(phone)
      propagating.set(phone, options.propagationPatches ?? 0)
      const order: FakeOrder = {
        id: `order-${ordered.length}`,
        status: "pending",
        customer_reference: b.customer_reference ?? null,
        phone_numbers: [{ phone_number: phone }],
      }
      orders.push(order)
      return { json: { data: { record_type: "number_order", ...order } } }
    }
    if (r.method === "GET" && url.pathname === "/number_orders") {
      const ref = url.searchParams.get("filter[customer_reference]")
      const listed = orders
        .filter((o) => ref === null || o.customer_reference === ref)
        .map((o) => ({ record_type: "number_order", ...o }))
      return {
        json: { data: listed, meta: { page_number: 1, page_size: 20, total_pages: 1, total_results: listed.length } },
      }
    }
    const assign = /^\/phone_numbers\/([^/]+)\/messaging$/.exec(url.pathname)
    if (r.method === "PATCH" && assign) {
      const phone = decodeURIComponent(assign[1]!)
      const wait = propagating.get(phone) ?? 0
      if (!messaging.has(phone) || wait > 0) {
        if (wait > 0) propagating.set(phone, wait - 1)
        return {
          status: 404,
          json: {
            errors: [
              {
                code: "10005",
                title: "Resource not found",
                detail: "The requested resource or URL could not be found.",
              },
            ],
          },
        }
      }
      const profileId = (r.body as { messaging_profile_id?: string | null })?.messaging_profile_id
      if (typeof profileId === "string") messaging.set(phone, profileId)
      return {
        json: {
          data: {
            record_type: "messaging_settings",
            id: `pn-${phone.slice(1)}`,
            phone_number: phone,
            messaging_profile_id: messaging.get(phone) || null,
            country_code: "US",
            type: "long-code",
          },
        },
      }
    }
    return { status: 404, json: { errors: [{ title: "not found" }] } }
  }
  const checked = checkedByContract(contract, refuse, handle)
  return { ordered, orders, messaging, own, handle: checked.handle, violations: checked.violations }
}
