// The agent's persisted state: its messaging identity key (generated at first start), profile, and conversations.
// One JSON file (mode 600) in the state dir, rewritten atomically; the runtime is its only writer.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { generateIdentity } from "@convos-agents/messaging"
import type { StoredImageRef } from "./avatar.ts"
import type { OwnConversation } from "./ownConversations.ts"

export interface AgentState {
  readonly privateKey: `0x${string}`
  readonly agentName: string
  readonly instructions: string
  readonly templateSlug: string | null
  /**
   * The model this agent thinks with (its template's, or an owner's `/model`); absent or null: the configured one
   * (MODEL with MODEL_BASE_URL, else OPENCLAW_PRIMARY_MODEL). Written into openclaw.json, which OpenClaw hot-reloads.
   */
  readonly model?: string | null
  /** Set once by /pool/provision; a second provision is refused. */
  readonly provisioned: boolean
  /** The agent's own conversation (created at provision, or the one it joined). */
  readonly conversationId: string | null
  readonly inviteUrl: string | null
  readonly inviteTag: string | null
  /** Every group the agent answers in (its own plus the ones it joined). */
  readonly conversations: ReadonlyArray<string>
  /**
   * Stream resume point: every message sent up to here is dealt with (OpenClaw took its turn over, or it was answered
   * or refused). A restart (a crash, the pool's rolling upgrade) streams from here, so a message still waiting for its
   * turn, and every one sent while the agent was down, is answered after it (agent/progress.ts).
   */
  readonly lastSeenMs: number
  /**
   * Messages sent after `lastSeenMs` that are already dealt with (a later one finished before an earlier one): skipped
   * when the stream replays them, so a restart never answers a message twice.
   */
  readonly handled?: ReadonlyArray<{ readonly id: string; readonly sentAtMs: number }>
  /** The profile picture (its bytes in <state>/convos/avatar.img), set by the owner's /avatar. */
  readonly avatar?: { readonly contentType: string; readonly sha256: string } | null
  /** Per conversation: the encrypted picture's reference there (avatar.ts), for the current picture's sha256. */
  readonly avatarRefs?: Readonly<Record<string, StoredImageRef>>
  /** Conversations made by POST /convos/conversation, each with its own identity (ownConversations.ts). */
  readonly ownConversations?: ReadonlyArray<OwnConversation>
}

export const agentStatePath = (stateDir: string) => join(stateDir, "convos", "agent.json")

export const loadAgentState = (stateDir: string, defaults: { agentName: string; instructions: string }): AgentState => {
  const path = agentStatePath(stateDir)
  if (existsSync(path)) return JSON.parse(readFileSync(path, "utf8")) as AgentState
  const fresh: AgentState = {
    privateKey: generateIdentity().privateKey,
    agentName: defaults.agentName,
    instructions: defaults.instructions,
    templateSlug: null,
    provisioned: false,
    conversationId: null,
    inviteUrl: null,
    inviteTag: null,
    conversations: [],
    lastSeenMs: Date.now(),
  }
  saveAgentState(stateDir, fresh)
  return fresh
}

export const saveAgentState = (stateDir: string, state: AgentState): void => {
  const path = agentStatePath(stateDir)
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
  const tmp = `${path}.${process.pid}.tmp`
  writeFileSync(tmp, JSON.stringify(state, null, 2), { mode: 0o600 })
  renameSync(tmp, path)
}
