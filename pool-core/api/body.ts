import { Schema } from "effect"
import type { Context as HonoContext } from "hono"

export const MAX_BODY_BYTES = 64 * 1024

export type Parsed<A> = { readonly ok: true; readonly value: A } | { readonly ok: false; readonly response: Response }

/** Reads a JSON body (≤ 64 KB, application/json) and validates it; errors name the field and the reason. */
export const readJson = async <S extends Schema.Top>(c: HonoContext, schema: S, options: { readonly optional?: boolean } = {}): Promise<Parsed<S["Type"]>> => {
  const declared = Number(c.req.header("content-length") ?? "0")
  if (declared > MAX_BODY_BYTES) return { ok: false, response: c.json({ error: `Body too large (limit ${MAX_BODY_BYTES} bytes).` }, 413) }
  const raw = await c.req.text()
  if (Buffer.byteLength(raw) > MAX_BODY_BYTES) return { ok: false, response: c.json({ error: `Body too large (limit ${MAX_BODY_BYTES} bytes).` }, 413) }
  let data: unknown = {}
  if (raw.trim().length > 0) {
    const type = c.req.header("content-type") ?? ""
    if (!type.toLowerCase().startsWith("application/json")) {
      return { ok: false, response: c.json({ error: "Send the body as JSON with Content-Type: application/json." }, 415) }
    }
    try {
      data = JSON.parse(raw)
    } catch {
      return { ok: false, response: c.json({ error: "The body is not valid JSON.", reason: "invalid JSON" }, 400) }
    }
  } else if (!options.optional) {
    data = {}
  }
  try {
    return { ok: true, value: Schema.decodeUnknownSync(schema as never)(data) as S["Type"] }
  } catch (e) {
    const issue = (e instanceof Error ? e.message : String(e)).replace(/\s+/g, " ")
    const field = /\["([^"]+)"\]/.exec(issue)?.[1] ?? "body"
    return { ok: false, response: c.json({ error: `Invalid ${field}: ${issue.slice(0, 200)}`, field, reason: issue.slice(0, 300) }, 400) }
  }
}
