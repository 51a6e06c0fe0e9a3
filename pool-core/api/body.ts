import { Schema } from "effect"
import type { Context as HonoContext } from "hono"

// Request bodies with a size limit enforced while they stream in: the JSON API, the admin forms and the web's public
// forms all read through `readLimited`, which stops reading as soon as the limit is passed (a chunked body without
// Content-Length is never buffered whole). Callers answer the failure their own way (JSON for the API, a page for
// forms); the 413 responses carry `Connection: close` so the server drops the rest of the upload.

export const MAX_BODY_BYTES = 64 * 1024

export type BodyFailure = { readonly status: 400 | 413 | 415; readonly field: string; readonly message: string }
export type BodyResult<A> = { readonly ok: true; readonly value: A } | ({ readonly ok: false } & BodyFailure)

const tooLarge = (limit: number): BodyFailure => ({
  status: 413,
  field: "body",
  message: `Body too large (limit ${limit} bytes).`,
})

/** The raw body, read chunk by chunk and abandoned the moment it passes `limit` bytes. */
export const readLimited = async (
  req: Request,
  limit: number = MAX_BODY_BYTES,
): Promise<BodyResult<Uint8Array<ArrayBuffer>>> => {
  const declared = req.headers.get("content-length")
  if (declared !== null && Number(declared) > limit) return { ok: false, ...tooLarge(limit) }
  if (req.body === null) return { ok: true, value: new Uint8Array(0) }
  const reader = req.body.getReader()
  const chunks: Array<Uint8Array> = []
  let total = 0
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      total += value.byteLength
      // Stop here: the rest is never read (the server drops it when the 413 response closes the connection).
      if (total > limit) return { ok: false, ...tooLarge(limit) }
      chunks.push(value)
    }
  } catch {
    return { ok: false, status: 400, field: "body", message: "The body could not be read (the upload was cut off)." }
  } finally {
    reader.releaseLock()
  }
  const out = new Uint8Array(total)
  let at = 0
  for (const chunk of chunks) {
    out.set(chunk, at)
    at += chunk.byteLength
  }
  return { ok: true, value: out }
}

/** The media type of a Content-Type header, without parameters ("application/json; charset=utf-8" → "application/json"). */
const mediaType = (header: string | null | undefined) => (header ?? "").split(";")[0]!.trim().toLowerCase()

const utf8 = (bytes: Uint8Array): string | null => {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes)
  } catch {
    return null
  }
}

/**
 * A form body (application/x-www-form-urlencoded or multipart/form-data) as its string fields, within `limit` bytes.
 * An empty body is an empty form. File parts are dropped: no form of ours has one.
 */
export const readForm = async (
  req: Request,
  limit: number = MAX_BODY_BYTES,
): Promise<BodyResult<Record<string, string>>> => {
  const raw = await readLimited(req, limit)
  if (!raw.ok) return raw
  if (raw.value.byteLength === 0) return { ok: true, value: {} }
  const type = mediaType(req.headers.get("content-type"))
  const fields: Record<string, string> = {}
  if (type === "application/x-www-form-urlencoded") {
    const text = utf8(raw.value)
    if (text === null) return { ok: false, status: 400, field: "body", message: "The form is not valid UTF-8." }
    for (const [k, v] of new URLSearchParams(text)) if (!(k in fields)) fields[k] = v
    return { ok: true, value: fields }
  }
  if (type === "multipart/form-data") {
    try {
      const form = await new Response(raw.value, {
        headers: { "content-type": req.headers.get("content-type")! },
      }).formData()
      for (const [k, v] of form) if (typeof v === "string" && !(k in fields)) fields[k] = v
      return { ok: true, value: fields }
    } catch {
      return {
        ok: false,
        status: 400,
        field: "body",
        message: "The form is damaged (multipart body could not be parsed).",
      }
    }
  }
  return {
    ok: false,
    status: 415,
    field: "body",
    message: "Send the form as application/x-www-form-urlencoded or multipart/form-data.",
  }
}

/** A body over the limit closes the connection, so the server drops the unread rest of the upload. */
const closeIfTooLarge = (c: HonoContext, f: BodyFailure) => {
  if (f.status === 413) c.header("Connection", "close")
}

/** `readForm` of the request in `c`; a body over the limit also closes the connection. */
export const readRequestForm = async (
  c: HonoContext,
  limit: number = MAX_BODY_BYTES,
): Promise<BodyResult<Record<string, string>>> => {
  const body = await readForm(c.req.raw, limit)
  if (!body.ok) closeIfTooLarge(c, body)
  return body
}

/** The JSON error response of a body failure (413 also closes the connection). */
export const bodyFailureJson = (c: HonoContext, f: BodyFailure) => {
  closeIfTooLarge(c, f)
  return c.json({ error: f.message, field: f.field, reason: f.message }, f.status)
}

export type Parsed<A> = { readonly ok: true; readonly value: A } | { readonly ok: false; readonly response: Response }

/** The field an Effect Schema issue is about: the first path segment of the message, else the whole body. */
export const issueField = (issue: string): string => {
  const quoted = /\[("(?:[^"\\]|\\.)*")\]/.exec(issue)?.[1]
  if (quoted === undefined) return "body"
  try {
    return JSON.parse(quoted) as string
  } catch {
    return "body"
  }
}

/**
 * Reads a JSON body (≤ 64 KB, application/json) and validates it; errors name the field and the reason. Unknown fields
 * are refused (a typo in a field name must not be silently ignored).
 */
export const readJson = async <S extends Schema.Top>(c: HonoContext, schema: S): Promise<Parsed<S["Type"]>> => {
  const fail = (f: BodyFailure): Parsed<never> => ({ ok: false, response: bodyFailureJson(c, f) })
  const raw = await readLimited(c.req.raw)
  if (!raw.ok) return fail(raw)
  const text = utf8(raw.value)
  if (text === null) return fail({ status: 400, field: "body", message: "The body is not valid UTF-8." })
  let data: unknown = {}
  if (text.trim().length > 0) {
    if (mediaType(c.req.header("content-type")) !== "application/json") {
      return fail({ status: 415, field: "body", message: "Send the body as JSON with Content-Type: application/json." })
    }
    try {
      data = JSON.parse(text)
    } catch {
      return fail({ status: 400, field: "body", message: "The body is not valid JSON." })
    }
  }
  try {
    return {
      ok: true,
      value: Schema.decodeUnknownSync(schema as never)(data, { onExcessProperty: "error" }) as S["Type"],
    }
  } catch (e) {
    const issue = (e instanceof Error ? e.message : String(e)).replace(/\s+/g, " ")
    const field = issueField(issue)
    return {
      ok: false,
      response: c.json({ error: `Invalid ${field}: ${issue.slice(0, 200)}`, field, reason: issue.slice(0, 300) }, 400),
    }
  }
}
