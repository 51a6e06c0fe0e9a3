// The agent's workspace as OpenClaw 2026.9 reads it: AGENTS.md (operating rules, with a `## Tools` section since
// TOOLS.md is retired), SOUL.md (persona), IDENTITY.md (name; custom instructions under `## Custom Instructions`,
// where the upstream runtime put them – upstream bug #84 was instructions written where the agent never looked). The
// `## Tools` section lists the tools the agent really has (the config's allow list, its services only while held).
// The seed's other files (TOOLS.md, HEARTBEAT.md, BOOT.md, USER.md) are written too: seedFiles.ts.
import { existsSync, mkdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { AGENT_NAME_MAX_CHARS, agentNameForDisplay, LIMITS } from "@convos-agents/contract"
import {
  bootMarkdown,
  heartbeatMarkdown,
  heartbeatOn,
  isDefaultGreeting,
  readGreeting,
  toolsMarkdown,
  userMarkdown,
} from "./seedFiles.ts"

// Size limits. OpenClaw injects each workspace file into the prompt up to `bootstrapMaxChars` (default 20,000) and
// silently truncates the rest; IDENTITY.md is its header plus the custom instructions, so the config raises the
// limit to hold the longest instructions the HTTP contract accepts (a test checks the worst case fits).
export const MAX_INSTRUCTIONS_CHARS = LIMITS.instructionsChars
/** The one name rule's limit (contract/names.ts), the same as the pool's. */
export const MAX_AGENT_NAME_CHARS = AGENT_NAME_MAX_CHARS
export const MAX_TEMPLATE_SLUG_CHARS = LIMITS.templateSlugChars
/** agents.defaults.bootstrapMaxChars in the generated config: the longest IDENTITY.md plus a margin. */
// Kept at the 24,000 it was when instructions could be 20,000: OpenClaw applies it to AGENTS.md and SOUL.md as well.
export const BOOTSTRAP_MAX_CHARS = 24_000
/** agents.defaults.bootstrapTotalMaxChars: AGENTS.md + SOUL.md + IDENTITY.md together (OpenClaw's default). */
export const BOOTSTRAP_TOTAL_MAX_CHARS = 60_000

export interface AgentProfile {
  readonly agentName: string
  readonly instructions: string
  readonly templateSlug?: string | null
}

/**
 * Workspace skills earlier versions wrote (they told the model to call provider APIs with keys through a shell). The
 * agent has no shell and no provider key now: its services are typed tools (plugin/agentServices.ts). Removed from
 * old state dirs on every apply.
 */
export const RETIRED_SKILLS = ["agentmail", "telnyx", "bankr"] as const

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

export const agentsMarkdown = (p: AgentProfile, toolLines: ReadonlyArray<string>, heartbeatEvery = "0m"): string =>
  [
    "# AGENTS.md - How to work here",
    "",
    `You are ${p.agentName}, an agent in a Convos group chat (end-to-end encrypted messaging).`,
    "Every message you receive comes from a person in that chat; your reply is posted there as a chat message.",
    "",
    "- Keep replies short and conversational: plain text, no Markdown tables or headings.",
    "- Follow the custom instructions in IDENTITY.md; they were written by the person who created you.",
    "- Anyone with the chat's invite can talk to you: confirm with the person before sending email or SMS for them.",
    "- You have no shell and cannot run commands or programs; your files are this workspace only.",
    "- Notes about the people here go in USER.md.",
    ...(heartbeatOn(heartbeatEvery)
      ? ["- Heartbeat polls: see HEARTBEAT.md; reply HEARTBEAT_OK when nothing needs the group."]
      : []),
    "",
    "## Tools",
    "",
    toolLines.length === 0
      ? "You have no tools: answer from what you know and what the chat says."
      : ["All the tools you have (also in TOOLS.md):", ...toolLines].join("\n"),
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

const keepsEditedGreeting = (workspaceDir: string) => {
  const greeting = readGreeting(workspaceDir)
  return greeting !== null && !isDefaultGreeting(greeting)
}

/**
 * Writes (or rewrites) the workspace files; `toolLines` is the `## Tools` list (seedFiles.ts toolLines). USER.md is
 * the agent's own notes: written only when missing. Returns the files written.
 */
export const writeWorkspace = (
  workspaceDir: string,
  profile: AgentProfile,
  toolLines: ReadonlyArray<string> = [],
  heartbeatEvery = "0m",
): string[] => {
  mkdirSync(workspaceDir, { recursive: true, mode: 0o700 })
  // The name goes into Markdown lines (`- **Name:** …`): whatever was stored, it is written as one line.
  profile = { ...profile, agentName: agentNameForDisplay(profile.agentName, "Convos Agent") }
  const files: Record<string, string> = {
    "AGENTS.md": agentsMarkdown(profile, toolLines, heartbeatEvery),
    "SOUL.md": soulMarkdown(profile),
    "TOOLS.md": toolsMarkdown(toolLines),
    "IDENTITY.md": identityMarkdown(profile),
    "HEARTBEAT.md": heartbeatMarkdown(heartbeatEvery),
    ...(keepsEditedGreeting(workspaceDir) ? {} : { "BOOT.md": bootMarkdown(profile.agentName) }),
    ...(existsSync(join(workspaceDir, "USER.md")) ? {} : { "USER.md": userMarkdown() }),
  }
  const written: string[] = []
  for (const [name, text] of Object.entries(files)) {
    writeFileSync(join(workspaceDir, name), text)
    written.push(name)
  }
  for (const name of RETIRED_SKILLS) rmSync(join(workspaceDir, "skills", name), { recursive: true, force: true })
  try {
    rmdirSync(join(workspaceDir, "skills")) // only when nothing else is left in it
  } catch {}
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
