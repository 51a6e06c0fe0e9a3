// Request bodies of the instance contract, validated at the edge with the contract's Schemas
// (@convos-agents/contract, contract/runtime.ts: the pool's client uses the same module). A failure names the field and
// the reason.
import { Result, Schema, SchemaIssue } from "effect"

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
