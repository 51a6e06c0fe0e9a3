// The workspace files of the seed beyond AGENTS.md, SOUL.md and IDENTITY.md: TOOLS.md, HEARTBEAT.md, BOOT.md and
// USER.md. OpenClaw 2026.9 injects AGENTS.md, SOUL.md, IDENTITY.md and USER.md into every turn; TOOLS.md is retired
// there (its list lives in AGENTS.md `## Tools`, written from the same lines), HEARTBEAT.md is read by nobody while
// heartbeats are off, and BOOT.md is where the runtime takes the greeting it sends on joining a conversation.
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { AGENT_SERVICE_TOOLS } from "./openclawConfig.ts"

/** What the pool's service API says the agent holds (plugin/agentServices.ts HeldServices, the parts named here). */
export interface HeldTools {
  readonly email?: { readonly address: string } | null
  readonly phone?: { readonly number: string } | null
  readonly wallet?: { readonly address: string } | null
}

/** Lines describing each tool the model is offered. A service tool is offered only while the agent holds the service. */
export const toolLines = (allowed: ReadonlyArray<string>, held: HeldTools): ReadonlyArray<string> => {
  const has = (t: string) => allowed.includes(t)
  const service = (t: (typeof AGENT_SERVICE_TOOLS)[number]) =>
    has(t) && (t === "send_sms" ? !!held.phone : t === "wallet_address" ? !!held.wallet : !!held.email)
  return [
    ...(has("read") || has("write") || has("edit")
      ? ["- `read` / `write` / `edit`: files in your workspace only (notes, lists, drafts); nothing outside it."]
      : []),
    ...(has("memory_search") || has("memory_get")
      ? ["- `memory_search` / `memory_get`: search and read your notes (MEMORY.md, memory/*.md)."]
      : []),
    ...(has("web_search") ? ["- `web_search`: search the web for current facts; say where an answer came from."] : []),
    ...(service("send_email") && held.email
      ? [`- \`send_email\` / \`list_emails\`: email from and to your address ${held.email.address}.`]
      : []),
    ...(service("send_sms") && held.phone
      ? [`- \`send_sms\`: text messages from your number ${held.phone.number}.`]
      : []),
    ...(service("wallet_address") ? ["- `wallet_address`: your crypto wallet's address."] : []),
  ]
}

export const toolsMarkdown = (lines: ReadonlyArray<string>): string =>
  [
    "# TOOLS.md - What you can use",
    "",
    "These are all the tools you have. There is no shell, no browser and no way to run programs: never claim or offer",
    "anything that needs one.",
    "",
    ...lines,
    "",
  ].join("\n")

/** Heartbeats (periodic agent turns) are off unless AGENT_HEARTBEAT_EVERY sets a cadence: "0m" is off. */
export const heartbeatOn = (every: string) => !/^0+[smh]?$/.test(every)

export const heartbeatMarkdown = (every: string): string =>
  heartbeatOn(every)
    ? [
        "# HEARTBEAT.md",
        "",
        `Heartbeats are on: every ${every} you get a heartbeat poll. Reply HEARTBEAT_OK unless something needs the group:`,
        "",
        "- a deadline or date someone mentioned is close;",
        "- a question to you is still unanswered;",
        "- a plan stalled waiting on someone.",
        "",
        "Then post one short message about it. Never post twice about the same thing.",
        "",
      ].join("\n")
    : [
        "# HEARTBEAT.md",
        "",
        "Heartbeats are off for this agent (AGENT_HEARTBEAT_EVERY is not set): you only speak when someone writes.",
        "If you ever get a heartbeat poll, reply HEARTBEAT_OK.",
        "",
      ].join("\n")

export const GREETING_HEADING = "## Greeting"

/** The default greeting: who the agent is, and that people shape it by talking to it (the seed's welcome message rule). */
export const defaultGreeting = (agentName: string) =>
  `Hi, I'm ${agentName}! Mention what you need and I'll help right here. You can also tell me how you'd like me to work, and I'll remember it.`

/** Whether `greeting` is the default one (for any name): such a BOOT.md is rewritten, an edited one kept. */
export const isDefaultGreeting = (greeting: string) =>
  /^Hi, I'm .*! Mention what you need and I'll help right here\./s.test(greeting)

export const bootMarkdown = (agentName: string): string =>
  [
    "# BOOT.md - Joining a conversation",
    "",
    "When you join a conversation (or someone joins yours), the runtime posts the greeting below for you. Edit it to",
    "change what newcomers read first (an edited greeting is kept; the default one follows renames); one or two sentences.",
    "",
    GREETING_HEADING,
    "",
    defaultGreeting(agentName),
    "",
  ].join("\n")

/** The greeting BOOT.md holds now (the agent or its owner may have edited it), or null when there is none. */
export const readGreeting = (workspaceDir: string): string | null => {
  const path = join(workspaceDir, "BOOT.md")
  if (!existsSync(path)) return null
  const text = readFileSync(path, "utf8")
  const at = text.indexOf(GREETING_HEADING)
  if (at < 0) return null
  const greeting = text
    .slice(at + GREETING_HEADING.length)
    .split(/\n#{1,6} /)[0]!
    .trim()
  return greeting === "" ? null : greeting.slice(0, 1_000)
}

export const userMarkdown = (): string =>
  [
    "# USER.md - The people here",
    "",
    "Keep what you learn about this group here (it is yours to edit with `write` / `edit`): who is in it, what they",
    "prefer, what was decided. Date each entry; mark an entry superseded instead of deleting it.",
    "",
    "## Members",
    "",
    "## Preferences",
    "",
    "## Decisions",
    "",
  ].join("\n")

/** The greeting to post: BOOT.md's when someone edited it, else the default one with the agent's current name. */
export const greetingFor = (workspaceDir: string, agentName: string): string => {
  const edited = readGreeting(workspaceDir)
  return edited !== null && !isDefaultGreeting(edited) ? edited : defaultGreeting(agentName)
}
