import { Effect } from "effect"
import type { Instance } from "@convos-agents/pool-core"
import { describeAgent } from "../agents.ts"
import { answer } from "../explain.ts"
import type { Command } from "../types.ts"

/** The owner `ref` names among the pool's owners: the exact id, or the one id it starts (at least 6 characters). */
const ownerOf = (all: ReadonlyArray<Instance>, ref: string): { owner: string } | { problem: string } => {
  const owners = [...new Set(all.flatMap((i) => (i.claimedBy ? [i.claimedBy] : [])))]
  if (owners.includes(ref)) return { owner: ref }
  const hits = ref.length >= 6 ? owners.filter((o) => o.toLowerCase().startsWith(ref.toLowerCase())) : []
  if (hits.length === 1) return { owner: hits[0]! }
  return {
    problem:
      hits.length === 0
        ? `No agents owned by ${ref}. Owners are inbox ids (or api:<label>, web:…); /pool lists every instance.`
        : `"${ref}" starts ${hits.length} owners' ids; use more of it.`,
  }
}

export const ownerCommand: Command = {
  name: "owner",
  args: "<id>",
  help: "an owner's agents (their inbox id, api:<label> or web:…, or its first 6+ characters)",
  scope: "ops",
  minArgs: 1,
  maxArgs: 1,
  run: (ctx, [ref]) =>
    answer(
      ctx,
      ctx.pool.list({ limit: 10_000 }).pipe(
        Effect.flatMap((all) => {
          const found = ownerOf(all, ref!.trim())
          if ("problem" in found) return Effect.succeed(found.problem)
          const { owner } = found
          const theirs = all.filter((i) => i.claimedBy === owner)
          return ctx
            .spendOf(theirs.map((i) => i.id))
            .pipe(
              Effect.map(
                (spend) =>
                  `${owner} has ${theirs.length} agent(s):\n${theirs.map((i) => describeAgent(i, spend.get(i.id))).join("\n")}`,
              ),
            )
        }),
      ),
      (text) => text,
    ),
}
