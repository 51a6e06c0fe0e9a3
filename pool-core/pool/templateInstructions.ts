import { Duration, Effect, Option } from "effect"
import type { Template } from "../domain/template.ts"
import { NotionPrompts } from "../providers/notion/NotionPrompts.ts"
import { limits } from "./validation.ts"

// A template's default instructions for a claim. A template with a `notionPageId` takes them from that Notion page
// (through NotionPrompts, which keeps each page an hour), so editing the page changes what new agents are told. A claim
// never fails or waits long for Notion: when the page cannot be read in time, is empty, or the pool has no Notion
// (no NotionPrompts in its context: tests and benchmarks), the template's checked-in instructions are used.

/** The longest a claim waits for a page Notion has not answered for within the hour. */
export const NOTION_WAIT = Duration.seconds(5)

export const makeTemplateInstructions = Effect.gen(function* () {
  const notion = yield* Effect.serviceOption(NotionPrompts)
  return (t: Template): Effect.Effect<string> => {
    if (!t.notionPageId || Option.isNone(notion)) return Effect.succeed(t.instructions)
    const fallback = (why: string) =>
      Effect.logWarning(`template ${t.slug}: ${why} Using its checked-in instructions.`).pipe(Effect.as(t.instructions))
    return notion.value.prompt(t.notionPageId).pipe(
      Effect.timeout(NOTION_WAIT),
      Effect.flatMap((p) => {
        const text = p.prompt.trim()
        if (text === "") return fallback(`its Notion page ${t.notionPageId} has no text.`)
        if (text.length <= limits.instructions) return Effect.succeed(text)
        return Effect.logWarning(
          `template ${t.slug}: its Notion page is ${text.length} characters; agents get the first ${limits.instructions}.`,
        ).pipe(Effect.as(text.slice(0, limits.instructions)))
      }),
      Effect.catch((e) => fallback(`its Notion page could not be read: ${e.message}`)),
    )
  }
})
