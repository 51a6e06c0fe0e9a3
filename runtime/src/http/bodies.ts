// Request bodies of the instance contract, validated at the edge. A failure names the field and the reason.
import { Result, Schema, SchemaIssue } from "effect"
import { AgentName, Instructions, TemplateSlug } from "@convos-agents/contract"

const ENV_NAME = /^[A-Z][A-Z0-9_]*$/

// The one name rule (contract/names.ts): one line, trimmed, 1–64 characters, no control characters.
const Name = AgentName
// Instructions and template slugs under the contract's one table of limits (contract/limits.ts). IDENTITY.md holds
// the instructions; the generated config lets OpenClaw read all of them (BOOTSTRAP_MAX_CHARS).
const Url = Schema.String.check(Schema.isNonEmpty({ message: "must not be empty" }))

export const ProvisionBody = Schema.Struct({
  agentName: Name,
  instructions: Instructions,
  templateSlug: Schema.optional(Schema.NullOr(TemplateSlug)),
  joinUrl: Schema.optional(Schema.NullOr(Url)),
  env: Schema.optional(
    Schema.Record(Schema.String, Schema.String).check(
      Schema.makeFilter((vars: Readonly<Record<string, string>>) => {
        const bad = Object.keys(vars).find((k) => !ENV_NAME.test(k))
        return bad === undefined ? undefined : { path: [bad], issue: "env names must be UPPER_SNAKE_CASE" }
      }),
    ),
  ),
})

export const AgentPatchBody = Schema.Struct({
  agentName: Schema.optional(Name),
  instructions: Schema.optional(Instructions),
})

export const ConversationBody = Schema.Struct({
  name: Name,
  instructions: Schema.optional(Instructions),
  /** The seed's XMTP env: the network the conversation is on; it must be the agent's own. */
  env: Schema.optional(Schema.Literals(["devnet", "dev", "production"])),
})

export const JoinBody = Schema.Struct({ inviteUrl: Url })

export interface BodyProblem {
  readonly field: string
  readonly reason: string
}

const format = SchemaIssue.makeFormatterStandardSchemaV1()

export const decodeBody = <S extends Schema.Codec<any, any, never, never>>(
  schema: S,
  input: unknown,
): Result.Result<S["Type"], BodyProblem> => {
  const r = Schema.decodeResult(schema as any)(input as never, { errors: "first" }) as Result.Result<
    S["Type"],
    Schema.SchemaError
  >
  if (Result.isSuccess(r)) return r as Result.Result<S["Type"], never>
  const first = format(r.failure.issue).issues[0]
  const field =
    first?.path
      ?.map((p) => String(typeof p === "object" && p !== null && "key" in p ? (p as { key: PropertyKey }).key : p))
      .join(".") || "body"
  return Result.fail({ field, reason: first?.message ?? r.failure.message })
}
