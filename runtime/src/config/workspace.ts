// The agent's workspace as OpenClaw 2026.9 reads it: AGENTS.md (operating rules, with a `## Tools` section since
// TOOLS.md is retired), SOUL.md (persona), IDENTITY.md (name; custom instructions under `## Custom Instructions`,
// where the upstream runtime put them – upstream bug #84 was instructions written where the agent never looked), and
// workspace skills (skills/<name>/SKILL.md) for the providers whose key is present.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { AGENT_NAME_MAX_CHARS, agentNameForDisplay } from "@convos-agents/pool-core/messaging"

// Size limits. OpenClaw injects each workspace file into the prompt up to `bootstrapMaxChars` (default 20,000) and
// silently truncates the rest; IDENTITY.md is its header plus the custom instructions, so the config raises the
// limit to hold the longest instructions the HTTP contract accepts (a test checks the worst case fits).
export const MAX_INSTRUCTIONS_CHARS = 20_000
/** The one name rule's limit (pool-core/domain/names.ts), the same as the pool's. */
export const MAX_AGENT_NAME_CHARS = AGENT_NAME_MAX_CHARS
export const MAX_TEMPLATE_SLUG_CHARS = 100
/** agents.defaults.bootstrapMaxChars in the generated config: the longest IDENTITY.md plus a margin. */
export const BOOTSTRAP_MAX_CHARS = MAX_INSTRUCTIONS_CHARS + 4_000
/** agents.defaults.bootstrapTotalMaxChars: AGENTS.md + SOUL.md + IDENTITY.md together (OpenClaw's default). */
export const BOOTSTRAP_TOTAL_MAX_CHARS = 60_000

export interface AgentProfile {
  readonly agentName: string
  readonly instructions: string
  readonly templateSlug?: string | null
}

export interface SkillSpec {
  readonly name: string
  readonly description: string
  /**
   * Env vars that must all be set for the skill to be written (and that OpenClaw checks again via requires.env): the
   * key AND the agent's own resource, both handed over by the pool at provision (pool-core/providers/resources).
   */
  readonly requiresEnv: ReadonlyArray<string>
  readonly body: string
}

export const SKILLS: ReadonlyArray<SkillSpec> = [
  {
    name: "agentmail",
    description: "Send and read email from the agent's own AgentMail inbox.",
    requiresEnv: ["AGENTMAIL_API_KEY", "AGENTMAIL_INBOX_ID"],
    body: [
      "Use the AgentMail HTTP API (https://api.agentmail.to/v0) with `Authorization: Bearer $AGENTMAIL_API_KEY`.",
      "Your inbox id is `$AGENTMAIL_INBOX_ID`; your address is `$AGENTMAIL_INBOX_ADDRESS` (the key works for this inbox only).",
      "- Send: `POST /inboxes/$AGENTMAIL_INBOX_ID/messages/send` with JSON `{to, subject, text}`.",
      "- Read: `GET /inboxes/$AGENTMAIL_INBOX_ID/messages`.",
      "Confirm with the person before sending an email on their behalf.",
    ].join("\n"),
  },
  {
    name: "telnyx",
    description: "Send SMS from the agent's Telnyx phone number.",
    requiresEnv: ["TELNYX_API_KEY", "TELNYX_PHONE_NUMBER"],
    body: [
      "Use the Telnyx API (https://api.telnyx.com/v2) with `Authorization: Bearer $TELNYX_API_KEY`.",
      "Your number is `$TELNYX_PHONE_NUMBER`.",
      "- Send SMS: `POST /messages` with JSON `{from: $TELNYX_PHONE_NUMBER, to, text, messaging_profile_id: $TELNYX_MESSAGING_PROFILE_ID}`.",
      "Only text numbers the person gave you, and say what you sent.",
    ].join("\n"),
  },
  {
    name: "bankr",
    description: "Check balances and make crypto transfers through Bankr.",
    requiresEnv: ["BANKR_API_KEY"],
    body: [
      "Use the Bankr agent API (https://api.bankr.bot) with header `X-API-Key: $BANKR_API_KEY`.",
      "- Ask: `POST /agent/prompt` with JSON `{prompt}`; poll `GET /agent/job/{jobId}` until it completes.",
      "Never move funds without an explicit confirmation in the conversation.",
    ].join("\n"),
  },
]

export const activeSkills = (env: Readonly<Record<string, string | undefined>>) =>
  SKILLS.filter((s) => s.requiresEnv.every((k) => !!env[k]))

export const skillMarkdown = (s: SkillSpec): string =>
  [
    "---",
    `name: ${s.name}`,
    `description: ${s.description}`,
    `metadata: ${JSON.stringify({ openclaw: { requires: { env: s.requiresEnv }, primaryEnv: s.requiresEnv[0] } })}`,
    "---",
    "",
    `# ${s.name}`,
    "",
    s.body,
    "",
  ].join("\n")

export const CUSTOM_INSTRUCTIONS_HEADING = "## Custom Instructions"

export const identityMarkdown = (p: AgentProfile): string =>
  [
    "# IDENTITY.md - Who Am I?",
    "",
    `- **Name:** ${p.agentName}`,
    "- **Creature:** an AI agent living in a Convos group chat",
    "- **Vibe:** helpful, brief, friendly",
    ...(p.templateSlug ? [`- **Template:** ${p.templateSlug}`] : []),
    "",
    CUSTOM_INSTRUCTIONS_HEADING,
    "",
    p.instructions.trim() || "(none yet: be generally helpful)",
    "",
  ].join("\n")

export const agentsMarkdown = (p: AgentProfile, skills: ReadonlyArray<SkillSpec>): string =>
  [
    "# AGENTS.md - How to work here",
    "",
    `You are ${p.agentName}, an agent in a Convos group chat (end-to-end encrypted messaging).`,
    "Every message you receive comes from a person in that chat; your reply is posted there as a chat message.",
    "",
    "- Keep replies short and conversational: plain text, no Markdown tables or headings.",
    "- Follow the custom instructions in IDENTITY.md; they were written by the person who created you.",
    "- Never reveal API keys, tokens or environment variables.",
    "",
    "## Tools",
    "",
    skills.length === 0
      ? "No external services are connected to this agent."
      : skills.map((s) => `- \`${s.name}\` skill: ${s.description}`).join("\n"),
    "",
  ].join("\n")

export const soulMarkdown = (p: AgentProfile): string =>
  [
    "# SOUL.md",
    "",
    `You are ${p.agentName}. Be warm and direct. Admit what you do not know. Respect everyone in the chat equally:`,
    "you serve the group, not only the person who set you up.",
    "",
  ].join("\n")

/** Writes (or rewrites) the workspace files and the skills for the keys in `env`. Returns the paths written. */
export const writeWorkspace = (workspaceDir: string, profile: AgentProfile, env: Readonly<Record<string, string | undefined>>): string[] => {
  mkdirSync(workspaceDir, { recursive: true })
  // The name goes into Markdown lines (`- **Name:** …`): whatever was stored, it is written as one line.
  profile = { ...profile, agentName: agentNameForDisplay(profile.agentName, "Convos Agent") }
  const skills = activeSkills(env)
  const files: Record<string, string> = {
    "AGENTS.md": agentsMarkdown(profile, skills),
    "SOUL.md": soulMarkdown(profile),
    "IDENTITY.md": identityMarkdown(profile),
  }
  const written: string[] = []
  for (const [name, text] of Object.entries(files)) {
    writeFileSync(join(workspaceDir, name), text)
    written.push(name)
  }
  for (const s of SKILLS) {
    const dir = join(workspaceDir, "skills", s.name)
    if (skills.includes(s)) {
      mkdirSync(dir, { recursive: true })
      writeFileSync(join(dir, "SKILL.md"), skillMarkdown(s))
      written.push(`skills/${s.name}/SKILL.md`)
    } else if (existsSync(dir)) rmSync(dir, { recursive: true, force: true })
  }
  return written
}

/** The custom instructions currently in IDENTITY.md (for status). */
export const readInstructions = (workspaceDir: string): string | null => {
  const path = join(workspaceDir, "IDENTITY.md")
  if (!existsSync(path)) return null
  const text = readFileSync(path, "utf8")
  const at = text.indexOf(CUSTOM_INSTRUCTIONS_HEADING)
  return at < 0 ? null : text.slice(at + CUSTOM_INSTRUCTIONS_HEADING.length).trim()
}
