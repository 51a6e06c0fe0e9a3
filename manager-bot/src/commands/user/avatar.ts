import { withAgent } from "../agents.ts"
import { answer } from "../explain.ts"
import type { Command } from "../types.ts"

const kb = (n: number) =>
  n < 1024 * 1024 ? `${Math.max(1, Math.round(n / 1024))} KB` : `${(n / 1024 / 1024).toFixed(1)} MB`

export const avatarCommand: Command = {
  name: "avatar",
  args: "<agent> <image url>",
  help: "set your agent's profile picture in Convos (a link to a PNG, JPEG, WebP or GIF up to 2 MB)",
  scope: "user",
  aliases: ["avatar"],
  aliasArg: "agent",
  minArgs: 2,
  maxArgs: 2,
  run: (ctx, [ref, url]) =>
    withAgent(ctx, ref!, (agent, name) =>
      answer(
        ctx,
        ctx.pool.setAvatar(agent.id, ctx.sender, url!),
        (r) =>
          `Done: ${name} shows the new picture (${r.contentType.slice("image/".length).toUpperCase()}, ${kb(r.bytes)}) in its conversations, and in the ones it joins later.`,
      ),
    ),
}
