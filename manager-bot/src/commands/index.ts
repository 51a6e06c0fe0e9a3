import { helpCommand } from "./help.ts"
import { opsAgentCommand } from "./ops/agent.ts"
import { countsCommand } from "./ops/counts.ts"
import { dismissCommand } from "./ops/dismiss.ts"
import { drainCommand } from "./ops/drain.ts"
import { eventsCommand } from "./ops/events.ts"
import { infoCommand } from "./ops/info.ts"
import { killCommand } from "./ops/kill.ts"
import { ownerCommand } from "./ops/owner.ts"
import { poolCommand } from "./ops/pool.ts"
import { reconcileCommand } from "./ops/reconcile.ts"
import { replenishCommand } from "./ops/replenish.ts"
import { topupCommand } from "./ops/topup.ts"
import { upgradeCommand } from "./ops/upgrade.ts"
import type { Command } from "./types.ts"
import { agentCommand } from "./user/agent.ts"
import { agentsCommand } from "./user/agents.ts"
import { avatarCommand } from "./user/avatar.ts"
import { instructCommand } from "./user/instruct.ts"
import { inviteCommand } from "./user/invite.ts"
import { joinCommand } from "./user/join.ts"
import { leaveCommand } from "./user/leave.ts"
import { modelCommand } from "./user/model.ts"
import { newCommand } from "./user/new.ts"
import { nameCommand } from "./user/name.ts"
import { releaseCommand } from "./user/release.ts"
import { restartCommand } from "./user/restart.ts"
import { cancelCommand, skipCommand } from "./user/skip.ts"
import { templatesCommand } from "./user/templates.ts"
import { acceptCommand, declineCommand, transferCommand } from "./user/transfer.ts"

// Every command, declared once, in the order /help lists them. A new command: a module in user/ or ops/, listed here.

const userCommands = [
  templatesCommand,
  newCommand,
  agentsCommand,
  agentCommand,
  nameCommand,
  avatarCommand,
  instructCommand,
  modelCommand,
  inviteCommand,
  joinCommand,
  leaveCommand,
  restartCommand,
  transferCommand,
  acceptCommand,
  declineCommand,
  releaseCommand,
  skipCommand,
  cancelCommand,
]
const opsCommands = [
  infoCommand,
  countsCommand,
  poolCommand,
  replenishCommand,
  drainCommand,
  reconcileCommand,
  upgradeCommand,
  killCommand,
  dismissCommand,
  topupCommand,
  eventsCommand,
  ownerCommand,
  opsAgentCommand,
]

export const allCommands: ReadonlyArray<Command> = [...userCommands, ...opsCommands, helpCommand(() => allCommands)]
