import { Effect, Result } from "effect"
import { InvalidRequest } from "../domain/errors.ts"
import { LIMITS, normalizeAgentName } from "@convos-agents/contract"

// Input limits shared by every edge (chat, HTTP): checked again here so no caller can skip them.

// Text limits come from the contract's one table; `count` bounds one internal replenish/drain batch (the edges allow
// LIMITS.poolCountMax per request).
export const limits = {
  key: 200,
  owner: 200,
  agentName: LIMITS.agentNameChars,
  instructions: LIMITS.instructionsChars,
  url: LIMITS.urlChars,
  count: 100,
} as const

const invalid = (field: string, message: string) => Effect.fail(new InvalidRequest({ field, message }))

export const checkText = (
  field: string,
  value: string,
  max: number,
  opts: { allowEmpty?: boolean } = {},
): Effect.Effect<string, InvalidRequest> => {
  if (!opts.allowEmpty && value.trim().length === 0) return invalid(field, `${field} must not be empty.`)
  if (value.length > max) return invalid(field, `${field} is too long (${value.length} characters; at most ${max}).`)
  // Control characters other than newline/tab have no place in names or instructions.
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(value))
    return invalid(field, `${field} contains control characters; remove them.`)
  return Effect.succeed(value.trim())
}

/** An agent name under the one name rule (domain/names.ts): one line, trimmed, 1–64 characters. */
export const checkAgentName = (field: string, value: string): Effect.Effect<string, InvalidRequest> => {
  const r = normalizeAgentName(value)
  return Result.isSuccess(r) ? Effect.succeed(r.success) : invalid(field, r.failure)
}

export const checkCount = (
  field: string,
  n: number,
  max: number = limits.count,
): Effect.Effect<number, InvalidRequest> =>
  Number.isInteger(n) && n >= 0 && n <= max
    ? Effect.succeed(n)
    : invalid(field, `${field} must be a whole number from 0 to ${max} (got ${n}).`)

/** Convos invite URLs (https, convos://) or a bare invite code; the runtime verifies the signature. */
export const checkInviteUrl = (field: string, value: string): Effect.Effect<string, InvalidRequest> => {
  const v = value.trim()
  if (v.length === 0) return invalid(field, `${field} must not be empty.`)
  if (v.length > limits.url) return invalid(field, `${field} is too long.`)
  if (/^[A-Za-z0-9_*-]{50,}$/.test(v)) return Effect.succeed(v)
  try {
    const u = new URL(v)
    if (["https:", "http:", "convos:"].includes(u.protocol) || u.protocol.startsWith("convos-"))
      return Effect.succeed(v)
  } catch {}
  return invalid(
    field,
    `${field} is not a Convos invite link: paste the whole link (https://…/v2?i=…) from "Share" in Convos.`,
  )
}
