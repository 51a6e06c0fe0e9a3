import { Result, Schema } from "effect"
import { LIMITS } from "./limits.ts"

// One rule for agent names (docs/security.md, "One name rule"), used by the bot, the pool (and so the HTTP API and web), and the
// runtime. A name is one line: it is written into IDENTITY.md/SOUL.md/AGENTS.md as `- **Name:** …`, into ops alerts
// and into chat replies, so a line break in it could fake a Markdown heading ("\n## Custom Instructions") or a second
// alert line. The rule: line breaks, tabs and runs of spaces become one space, the ends are trimmed, and what is left
// must be 1–64 characters (Unicode code points, so an emoji counts as one) with no control characters and no
// bidirectional overrides (which can make a name display as something else).

export const AGENT_NAME_MAX_CHARS = LIMITS.agentNameChars

/** Whitespace a person may type by accident (Enter, Tab, NEL, Unicode line/paragraph separators): folded into one space. */
const FOLDED_WHITESPACE = /[\s\u0085]+/gu
/** C0 and C1 controls (after folding, none of them is whitespace any more) and DEL. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u
/** Bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069). */
const BIDI_CONTROL = /[\u202a-\u202e\u2066-\u2069]/u

const codePoints = (s: string) => [...s].length

/**
 * The name as it will be used (one line, trimmed), or the reason it cannot be one, phrased so the person knows what
 * to change.
 */
export const normalizeAgentName = (raw: string): Result.Result<string, string> => {
  const name = raw.replace(FOLDED_WHITESPACE, " ").trim()
  if (name.length === 0) return Result.fail("The agent's name is empty: send a name of 1 to 64 characters.")
  if (CONTROL.test(name))
    return Result.fail(
      "The agent's name contains control characters: use letters, digits, spaces and punctuation only.",
    )
  if (BIDI_CONTROL.test(name))
    return Result.fail("The agent's name contains text-direction control characters: remove them and send it again.")
  const length = codePoints(name)
  if (length > AGENT_NAME_MAX_CHARS) {
    return Result.fail(
      `The agent's name is too long (${length} characters; at most ${AGENT_NAME_MAX_CHARS}). Send a shorter one.`,
    )
  }
  return Result.succeed(name)
}

/** Why `raw` cannot become a name (normalizeAgentName's refusal), or undefined when it can. */
export const agentNameRefusal = (raw: string): string | undefined => {
  const r = normalizeAgentName(raw)
  return Result.isFailure(r) ? r.failure : undefined
}

/** Why `raw` is not a name in its final form (one line, trimmed, allowed characters), or undefined when it is. */
export const agentNameIssue = (raw: string): string | undefined => {
  const r = normalizeAgentName(raw)
  if (Result.isFailure(r)) return r.failure
  return r.success === raw ? undefined : "The agent's name must be one line without leading or trailing spaces."
}

/**
 * A name already in its final form (what the pool sends to an agent). Edges that take a name from a person use
 * normalizeAgentName first; a caller of the runtime contract that sends a line break is refused.
 */
export const AgentName = Schema.String.check(Schema.makeFilter((s: string) => agentNameIssue(s)))

/**
 * For showing a name that was stored before this rule (or came from the environment): never more than one line and
 * never a control character, whatever it holds; `fallback` when nothing is left.
 */
export const agentNameForDisplay = (raw: string | null | undefined, fallback: string): string => {
  if (raw === null || raw === undefined) return fallback
  const normalized = normalizeAgentName(raw)
  if (Result.isSuccess(normalized)) return normalized.success
  const cleaned = raw
    .replace(FOLDED_WHITESPACE, " ")
    .replace(new RegExp(`${CONTROL.source}|${BIDI_CONTROL.source}`, "gu"), "")
    .trim()
  const cut = [...cleaned].slice(0, AGENT_NAME_MAX_CHARS).join("").trim()
  return cut.length > 0 ? cut : fallback
}
