import type { RecordedRequest, Reply } from "../http/testing.ts"

// Loopback stand-in for the provider API (tests only): answers like the real one and checks auth on every request.

export const apiKey = "KEYtelnyx_secret_0001"
export const profile = "mp-123"

/** Telnyx v2 numbers API: every request must carry the key; orders must name the messaging profile. */
export const telnyxApi = (options: { conflictsFirst?: number } = {}) => {
  let next = 0
  let conflicts = options.conflictsFirst ?? 0
  const ordered: Array<string> = []
  const orders: Array<{ id: string; status: string; customer_reference: string | null; phone_numbers: Array<{ phone_number: string }> }> = []
  const handle = (r: RecordedRequest): Reply => {
    if (r.headers.authorization !== `Bearer ${apiKey}`) return { status: 401, json: { errors: [{ title: "Authentication failed" }] } }
    const url = new URL(r.path, "http://x")
    if (r.method === "GET" && url.pathname === "/available_phone_numbers") {
      if (url.searchParams.get("filter[country_code]") !== "US" || url.searchParams.get("filter[features][]") !== "sms" || url.searchParams.get("filter[limit]") !== "20")
        return { status: 400, json: { errors: [{ title: "bad filter" }] } }
      return { json: { data: [0, 1, 2].map(() => ({ phone_number: `+1555000${String(++next).padStart(4, "0")}` })) } }
    }
    if (r.method === "POST" && url.pathname === "/number_orders") {
      const b = r.body as { phone_numbers: Array<{ phone_number: string }>; messaging_profile_id: string; customer_reference?: string }
      if (b.messaging_profile_id !== profile || b.phone_numbers?.length !== 1) return { status: 400, json: { errors: [{ title: "bad order" }] } }
      if (conflicts-- > 0) return { status: 422, json: { errors: [{ title: "Number is no longer available" }] } }
      if (ordered.includes(b.phone_numbers[0].phone_number)) return { status: 422, json: { errors: [{ title: "Number is no longer available" }] } }
      ordered.push(b.phone_numbers[0].phone_number)
      const order = { id: `order-${ordered.length}`, status: "pending", customer_reference: b.customer_reference ?? null, phone_numbers: b.phone_numbers }
      orders.push(order)
      return { json: { data: order } }
    }
    if (r.method === "GET" && url.pathname === "/number_orders") {
      const ref = url.searchParams.get("filter[customer_reference]")
      return { json: { data: orders.filter((o) => ref === null || o.customer_reference === ref), meta: { page_number: 1, total_pages: 1 } } }
    }
    return { status: 404, json: { errors: [{ title: "not found" }] } }
  }
  return { ordered, orders, handle }
}
