import { answer } from "../explain.ts"
import type { Command } from "../types.ts"

export const templatesCommand: Command = {
  name: "templates",
  args: "",
  help: "list the kinds of agents you can get, with their skills",
  scope: "user",
  aliases: ["templates", "list templates", "what agents"],
  minArgs: 0,
  maxArgs: 0,
  run: (ctx) =>
    answer(ctx, ctx.pool.templates, (ts) =>
      [
        "Agent templates (say /new <template>):",
        ...ts.map(
          (t) =>
            `${t.emoji} ${t.slug} — ${t.name}: ${t.description}${t.skills.length ? `\n   skills: ${t.skills.join(", ")}` : ""}`,
        ),
      ].join("\n"),
    ),
}
