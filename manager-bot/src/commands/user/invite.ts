import { Effect } from "effect"
import { withAgent } from "../agents.ts"
import { answer, answerRecorded } from "../explain.ts"
import type { Command } from "../types.ts"

const rotated = (name: string) =>
  `New invite link for ${name}; earlier links no longer let anyone in (people already in stay):\n`

export const inviteCommand: Command = {
  name: "invite",
  args: "<agent> [new]",
  help: "the invite link to your agent's conversation; with new: a new link, and the old ones stop working",
  scope: "user",
  aliases: ["invite"],
  aliasArg: "agent",
  minArgs: 1,
  maxArgs: 2,
  run: (ctx, [ref, fresh]) =>
    fresh !== undefined && fresh.trim().toLowerCase() !== "new"
      ? ctx.reply(`Say /invite ${ref} for its link, or /invite ${ref} new for a new one (the old links stop working).`)
      : withAgent(ctx, ref!, (agent, name) =>
          fresh !== undefined
            ? // Recorded before the rotation: a takeover after a crash midway finds the link changed and sends the new
              // one, instead of rotating again (which would void the link the first run may have shown).
              ctx.journal
                .intend({ kind: "rotated", instanceId: agent.id, from: agent.inviteUrl ?? null }, rotated(name))
                .pipe(
                  Effect.andThen(
                    answerRecorded(
                      ctx,
                      ctx.pool.rotateInvite(agent.id, ctx.sender),
                      (a) => `${rotated(name)}${a.inviteUrl}`,
                    ),
                  ),
                )
            : answer(ctx, ctx.pool.get(agent.id), (a) =>
                a.inviteUrl
                  ? `Open this link in Convos to chat with ${name} (or share it):\n${a.inviteUrl}`
                  : `${name} has no invite link (it joined another conversation, or is not ready).`,
              ),
        ),
}
