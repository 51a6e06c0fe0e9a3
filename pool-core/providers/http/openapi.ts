import type { RecordedRequest, Reply } from "./testing.ts"

// A small OpenAPI checker for the loopback provider fakes (tests only). Each fake holds the provider's published API
// reference, cut to the operations the pool calls (<provider>/openapi.json, source and date in `info.x-vendored`), and
// checks every request against it before answering: an unknown path or method, a missing or unknown query parameter
// or body field, or a value of the wrong type or outside its enum is refused the way the provider refuses it. So a
// client sending anything the real API would refuse fails its test instead of passing against a fake that shares its
// mistakes. The fake's own 2xx answers are checked against the documented answer schema too (a fake drifting from the
// API throws).
//
// Stricter than some real APIs on purpose: a body field or query parameter the reference does not list is refused
// even where the provider might ignore it (a field that is silently ignored is a bug either way).
// Supported: JSON Schema as OpenAPI 3.0/3.1 use it (type incl. "null" and `nullable`, properties, required,
// additionalProperties, items, enum, oneOf/anyOf/allOf, minLength/maxLength, minimum/maximum, format uuid).

export interface JsonSchema {
  readonly type?: string | ReadonlyArray<string>
  readonly nullable?: boolean
  readonly properties?: Readonly<Record<string, JsonSchema>>
  readonly required?: ReadonlyArray<string>
  readonly additionalProperties?: boolean | JsonSchema
  readonly items?: JsonSchema
  readonly enum?: ReadonlyArray<unknown>
  readonly oneOf?: ReadonlyArray<JsonSchema>
  readonly anyOf?: ReadonlyArray<JsonSchema>
  readonly allOf?: ReadonlyArray<JsonSchema>
  readonly minLength?: number
  readonly maxLength?: number
  readonly minimum?: number
  readonly maximum?: number
  readonly format?: string
}

interface Parameter {
  readonly name: string
  readonly in: string
  readonly required?: boolean
  readonly schema?: JsonSchema
}

interface Media {
  readonly content?: Readonly<Record<string, { readonly schema?: JsonSchema }>>
}

interface Operation {
  readonly parameters?: ReadonlyArray<Parameter>
  readonly requestBody?: Media & { readonly required?: boolean }
  readonly responses?: Readonly<Record<string, Media>>
}

export interface OpenApiDocument {
  readonly info: { readonly "x-vendored"?: { readonly basePath?: string } }
  readonly paths: Readonly<Record<string, Readonly<Record<string, Operation>>>>
}

export interface Violation {
  readonly kind: "unknown path" | "method not allowed" | "invalid request"
  readonly message: string
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

const typeOf = (v: unknown): string =>
  v === null
    ? "null"
    : Array.isArray(v)
      ? "array"
      : typeof v === "number"
        ? Number.isInteger(v)
          ? "integer"
          : "number"
        : typeof v

/** Problems of `value` against `schema` at `at` (empty: it conforms). `strict`: unlisted object fields are errors. */
export const schemaProblems = (
  schema: JsonSchema | undefined,
  value: unknown,
  at: string,
  strict: boolean,
): Array<string> => {
  if (!schema) return []
  const types = schema.type === undefined ? [] : typeof schema.type === "string" ? [schema.type] : [...schema.type]
  const nullable = schema.nullable === true || types.includes("null") || (schema.enum?.includes(null) ?? false)
  if (value === null) return nullable || (types.length === 0 && !schema.enum) ? [] : [`${at} must not be null`]
  const problems: Array<string> = []
  if (schema.allOf) for (const s of schema.allOf) problems.push(...schemaProblems(s, value, at, false))
  for (const [key, alternatives] of [
    ["oneOf", schema.oneOf],
    ["anyOf", schema.anyOf],
  ] as const) {
    if (alternatives && !alternatives.some((s) => schemaProblems(s, value, at, strict).length === 0))
      problems.push(`${at} matches none of the ${key} alternatives`)
  }
  const actual = typeOf(value)
  if (types.length > 0 && !types.some((t) => t === actual || (t === "number" && actual === "integer")))
    return [...problems, `${at} must be ${types.join(" or ")} (got ${actual})`]
  if (schema.enum && !schema.enum.includes(value))
    problems.push(
      `${at} must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(", ")} (got ${JSON.stringify(value)})`,
    )
  if (typeof value === "string") {
    if (schema.minLength !== undefined && value.length < schema.minLength)
      problems.push(`${at} must have at least ${schema.minLength} characters`)
    if (schema.maxLength !== undefined && value.length > schema.maxLength)
      problems.push(`${at} must have at most ${schema.maxLength} characters`)
    if (schema.format === "uuid" && !UUID.test(value)) problems.push(`${at} must be a UUID`)
  }
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum)
      problems.push(`${at} must be at least ${schema.minimum}`)
    if (schema.maximum !== undefined && value > schema.maximum) problems.push(`${at} must be at most ${schema.maximum}`)
  }
  if (Array.isArray(value) && schema.items)
    value.forEach((item, i) => {
      problems.push(...schemaProblems(schema.items, item, `${at}[${i}]`, strict))
    })
  if (actual === "object" && (schema.properties || schema.additionalProperties !== undefined || schema.required)) {
    const object = value as Record<string, unknown>
    for (const name of schema.required ?? []) if (!(name in object)) problems.push(`${at}.${name} is required`)
    for (const [name, v] of Object.entries(object)) {
      const known = schema.properties?.[name]
      if (known) problems.push(...schemaProblems(known, v, `${at}.${name}`, strict))
      else if (typeof schema.additionalProperties === "object")
        problems.push(...schemaProblems(schema.additionalProperties, v, `${at}.${name}`, strict))
      else if (
        schema.additionalProperties === false ||
        (strict && schema.additionalProperties !== true && schema.properties)
      )
        problems.push(`${at}.${name} is not a field of this API`)
    }
  }
  return problems
}

/** A query value (always text) as the parameter's type; undefined when it cannot be one. */
const fromQuery = (schema: JsonSchema | undefined, raw: string): unknown => {
  const types = schema?.type === undefined ? [] : typeof schema.type === "string" ? [schema.type] : schema.type
  if (types.includes("integer") || types.includes("number"))
    return raw.trim() !== "" && Number.isFinite(Number(raw)) ? Number(raw) : raw
  if (types.includes("boolean")) return raw === "true" ? true : raw === "false" ? false : raw
  return raw
}

const jsonSchemaOf = (media: Media | undefined) => media?.content?.["application/json"]?.schema

export const openApiContract = (doc: OpenApiDocument) => {
  const basePath = doc.info["x-vendored"]?.basePath ?? ""
  // Literal segments win over templated ones (…/messages/send before …/messages/{message_id}).
  const routes = Object.entries(doc.paths)
    .map(([template, operations]) => {
      const names: Array<string> = []
      const source = template.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{([^}]+)\}/g, (_, name: string) => {
        names.push(name)
        return "([^/]+)"
      })
      return {
        template,
        operations,
        names,
        pattern: new RegExp(`^${basePath}${source}$`),
        literal: template.split("/").filter((s) => s && !s.startsWith("{")).length,
      }
    })
    .sort((a, b) => b.literal - a.literal)

  const match = (r: RecordedRequest) => {
    const url = new URL(r.path, "http://fake")
    for (const route of routes) {
      const m = route.pattern.exec(url.pathname)
      if (m)
        return {
          route,
          url,
          pathParams: Object.fromEntries(route.names.map((n, i) => [n, decodeURIComponent(m[i + 1]!)])),
        }
    }
    return null
  }

  /** The first way `r` breaks the contract, or null when the real API would take it. */
  const checkRequest = (r: RecordedRequest): Violation | null => {
    const found = match(r)
    if (!found)
      return { kind: "unknown path", message: `${r.method} ${r.path.split("?")[0]} is not an endpoint of this API` }
    const operation = found.route.operations[r.method.toLowerCase()]
    if (!operation)
      return {
        kind: "method not allowed",
        message: `${r.method} is not allowed on ${found.route.template} (allowed: ${Object.keys(found.route.operations).join(", ").toUpperCase()})`,
      }
    const problems: Array<string> = []
    const params = operation.parameters ?? []
    for (const p of params.filter((p) => p.in === "path"))
      problems.push(...schemaProblems(p.schema, found.pathParams[p.name], `path parameter ${p.name}`, true))
    const query = params.filter((p) => p.in === "query")
    const given = [...new Set(found.url.searchParams.keys())]
    for (const name of given) {
      const p = query.find((q) => q.name === name)
      if (!p) {
        problems.push(
          `query parameter ${name} is not a parameter of ${r.method} ${found.route.template} (known: ${query.map((q) => q.name).join(", ") || "none"})`,
        )
        continue
      }
      const values = found.url.searchParams.getAll(name)
      const value =
        p.schema?.type === "array"
          ? values.map((v) => fromQuery(p.schema?.items, v))
          : values.length === 1
            ? fromQuery(p.schema, values[0]!)
            : values
      problems.push(...schemaProblems(p.schema, value, `query parameter ${name}`, true))
    }
    for (const p of query)
      if (p.required && !given.includes(p.name)) problems.push(`query parameter ${p.name} is required`)
    const bodySchema = jsonSchemaOf(operation.requestBody)
    if (r.body === undefined) {
      if (operation.requestBody?.required) problems.push("a JSON body is required")
    } else if (!operation.requestBody) problems.push(`${r.method} ${found.route.template} takes no body`)
    else if (typeof r.body === "string") problems.push("the body is not JSON")
    else problems.push(...schemaProblems(bodySchema, r.body, "body", true))
    return problems.length === 0 ? null : { kind: "invalid request", message: problems.join("; ") }
  }

  /** Why the fake's answer to `r` is not what the API documents, or null. Only 2xx answers are checked. */
  const checkResponse = (r: RecordedRequest, status: number, json: unknown): string | null => {
    if (status < 200 || status > 299) return null
    const found = match(r)
    const operation = found?.route.operations[r.method.toLowerCase()]
    if (!operation?.responses) return null
    const documented = operation.responses[String(status)] ?? operation.responses["2XX"]
    if (!documented)
      return `${r.method} ${found!.route.template} answers ${Object.keys(operation.responses).join("/")}, not ${status}`
    const schema = jsonSchemaOf(documented)
    if (!schema)
      return json === undefined || json === null
        ? null
        : `${r.method} ${found!.route.template} answers ${status} with no body`
    const problems = schemaProblems(schema, json, "answer", false)
    return problems.length === 0 ? null : `${r.method} ${found!.route.template} ${status}: ${problems.join("; ")}`
  }

  return { checkRequest, checkResponse }
}

export type OpenApiContract = ReturnType<typeof openApiContract>

/**
 * A fake's handler behind its contract: a request off the contract is answered by `refuse` (the provider's own error
 * shape and status) and kept in `violations`; an off-contract 2xx answer of the fake throws.
 */
export const checkedByContract = (
  contract: OpenApiContract,
  refuse: (v: Violation) => Reply,
  handle: (r: RecordedRequest) => Reply,
) => {
  const violations: Array<Violation & { readonly request: string }> = []
  const checked = (r: RecordedRequest): Reply => {
    const violation = contract.checkRequest(r)
    if (violation) {
      violations.push({ ...violation, request: `${r.method} ${r.path}` })
      return refuse(violation)
    }
    const reply = handle(r)
    // Bytes are checked as the string (format binary) the reference documents them as.
    const body =
      reply.raw === undefined
        ? reply.json
        : typeof reply.raw === "string"
          ? reply.raw
          : Buffer.from(reply.raw).toString("latin1")
    const drift = contract.checkResponse(r, reply.status ?? 200, body)
    if (drift) throw new Error(`fake answered off the published API reference: ${drift}`)
    return reply
  }
  return { handle: checked, violations }
}
