import { Effect } from "effect"
import { describeAgent, resolveAgent, shortId } from "./agents.ts"
import { replyOr } from "./explain.ts"
import type { Command, CommandContext } from "./types.ts"

const withAgent = (ctx: CommandContext, ref: string, then: (id: string, name: string) => Effect.Effect<string>) =>
  resolveAgent(ctx.pool, ctx.sender, ref).pipe(
    Effect.flatMap((r) => (r._tag === "Found" ? then(r.agent.id, r.agent.agentName ?? shortId(r.agent.id)) : Effect.succeed(r.message))),
    Effect.catch(() => Effect.succeed("I could not look up your agents just now. Try again in a moment."))
  )

export const userCommands: ReadonlyArray<Command> = [
  {
    name: "templates",
    args: "",
    help: "list the kinds of agents you can get",
    scope: "user",
    aliases: ["templates", "list templates", "what agents"],
    minArgs: 0,
    maxArgs: 0,
    run: (ctx) =>
      replyOr(ctx.pool.templates, (ts) =>
        ["Agent templates (say /new <template>):", ...ts.map((t) => `${t.emoji} ${t.slug} — ${t.name}: ${t.description}${t.skills.length ? ` [${t.skills.join(", ")}]` : ""}`)].join("\n")
      ),
  },
  {
    name: "new",
    args: "[template]",
    help: "get a new agent (asks its name, then its instructions)",
    scope: "user",
    aliases: ["new agent", "get an agent", "new"],
    aliasArg: "template",
    minArgs: 0,
    maxArgs: 1,
    run: (ctx, [template]) =>
      template
        ? replyOr(ctx.pool.template(template.toLowerCase()), (t) => t.slug).pipe(
            Effect.flatMap((slugOrProblem) =>
              slugOrProblem === template.toLowerCase() ? ctx.startDialog(slugOrProblem) : Effect.succeed(`${slugOrProblem}\nSay /templates to see them.`)
            )
          )
        : ctx.startDialog(null),
  },
  {
    name: "agents",
    args: "",
    help: "list your agents",
    scope: "user",
    aliases: ["my agents", "agents", "list agents"],
    minArgs: 0,
    maxArgs: 0,
    run: (ctx) =>
      replyOr(
        ctx.pool
          .list({ claimedBy: ctx.sender, status: ["claiming", "claimed", "crashed"] })
          .pipe(Effect.flatMap((mine) => Effect.map(ctx.spendOf(mine.map((i) => i.id)), (spend) => ({ mine, spend })))),
        ({ mine, spend }) =>
          mine.length === 0 ? "You have no agents yet. Say /new to get one." : ["Your agents:", ...mine.map((i) => describeAgent(i, spend.get(i.id)))].join("\n")
      ),
  },
  {
    name: "name",
    args: "<agent> <new name>",
    help: "rename an agent",
    scope: "user",
    aliases: ["rename"],
    aliasArg: "agent",
    minArgs: 2,
    maxArgs: 2,
    run: (ctx, [ref, name]) =>
      withAgent(ctx, ref!, (id) => replyOr(ctx.pool.rename(id, ctx.sender, name!), (a) => `Done: your agent is now called ${a.agentName}.`)),
  },
  {
    name: "instruct",
    args: "<agent> <instructions>",
    help: "give an agent new instructions",
    scope: "user",
    aliases: ["instruct"],
    aliasArg: "agent",
    minArgs: 2,
    maxArgs: 2,
    run: (ctx, [ref, text]) =>
      withAgent(ctx, ref!, (id, name) => replyOr(ctx.pool.instruct(id, ctx.sender, text!), () => `Done: ${name} has its new instructions.`)),
  },
  {
    name: "invite",
    args: "<agent>",
    help: "the invite link to your agent's conversation",
    scope: "user",
    aliases: ["invite"],
    aliasArg: "agent",
    minArgs: 1,
    maxArgs: 1,
    run: (ctx, [ref]) =>
      withAgent(ctx, ref!, (id, name) =>
        replyOr(ctx.pool.get(id), (a) =>
          a.inviteUrl ? `Open this link in Convos to chat with ${name} (or share it):\n${a.inviteUrl}` : `${name} has no invite link (it joined another conversation, or is not ready).`
        )
      ),
  },
  {
    name: "join",
    args: "<agent> <convos invite link>",
    help: "send your agent into another conversation",
    scope: "user",
    aliases: ["join"],
    aliasArg: "agent",
    minArgs: 2,
    maxArgs: 2,
    run: (ctx, [ref, url]) =>
      withAgent(ctx, ref!, (id, name) =>
        replyOr(ctx.pool.join(id, ctx.sender, url!.trim()), (r) =>
          r.pending
            ? `${name} asked to join; it gets in as soon as the conversation's owner opens Convos and accepts.`
            : `${name} joined the conversation.`
        )
      ),
  },
  {
    name: "release",
    args: "<agent>",
    help: "give an agent back (it is shut down for good)",
    scope: "user",
    aliases: ["release"],
    aliasArg: "agent",
    minArgs: 1,
    maxArgs: 1,
    run: (ctx, [ref]) => withAgent(ctx, ref!, (id, name) => replyOr(ctx.pool.release(id, ctx.sender), () => `${name} was released and shut down.`)),
  },
  // The /new dialog reads these two itself; outside a dialog they only explain themselves.
  {
    name: "skip",
    args: "",
    help: "while setting up an agent: keep the suggested name or instructions",
    scope: "user",
    minArgs: 0,
    maxArgs: 0,
    run: () => Effect.succeed("There is nothing to skip: I only ask for a name and instructions while setting up an agent. Say /new to start."),
  },
  {
    name: "cancel",
    args: "",
    help: "while setting up an agent: stop",
    scope: "user",
    minArgs: 0,
    maxArgs: 0,
    run: () => Effect.succeed("There is nothing to cancel: you are not setting up an agent. Say /new to start, /help for everything."),
  },
]
