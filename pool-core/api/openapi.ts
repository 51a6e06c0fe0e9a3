// OpenAPI 3.1 description of the pool API, served at /api/openapi.json. Request bodies are generated from the Schemas
// the routes decode with (routes/pool.ts, limits from contract/limits.ts), so the document cannot drift from them.
import { Schema } from "effect"
import { ClaimBody, Count, OptionalCount } from "./routes/pool.ts"

const bodyOf = (schema: Schema.Top) => Schema.toJsonSchemaDocument(schema, { onExcessProperty: "error" }).schema
const json = (schema: object) => ({ "application/json": { schema } })
const err = {
  type: "object",
  properties: { error: { type: "string" }, field: { type: "string" }, reason: { type: "string" } },
  required: ["error"],
}
const errors = (...codes: number[]) =>
  Object.fromEntries(codes.map((c) => [String(c), { description: "error", content: json(err) }]))
const sse = {
  "text/event-stream": {
    schema: {
      type: "string",
      description: "events `step` {step,status,message,instanceId?} then `complete` {ok,result|error}",
    },
  },
}
const auth = [{ bearer: [] }]
const spend = {
  description:
    'OpenRouter spend of the agent\'s key: null without a key (or OpenRouter off, or not claimed); "unavailable" when OpenRouter did not answer',
  oneOf: [
    { type: "null" },
    { type: "string", const: "unavailable" },
    {
      type: "object",
      properties: {
        usedUsd: { type: "number", description: "USD spent in the limit's current period" },
        limitUsd: { type: ["number", "null"] },
        limitReset: { type: ["string", "null"], description: "daily | weekly | monthly" },
      },
      required: ["usedUsd", "limitUsd", "limitReset"],
    },
  ],
}
const instance = {
  type: "object",
  properties: { id: { type: "string" }, status: { type: "string" }, agentName: { type: ["string", "null"] }, spend },
}

export const openApiDocument = {
  openapi: "3.1.0",
  info: {
    title: "Convos agents pool API",
    version: "0.1.0",
    description: "Warm pool of AI agents for Convos. Mutations need Authorization: Bearer $POOL_API_KEY.",
  },
  components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
  paths: {
    "/healthz": {
      get: { summary: "Liveness", responses: { "200": { description: "ok", content: json({ type: "object" }) } } },
    },
    "/api/pool/counts": {
      get: {
        summary: "Instances per state",
        responses: { "200": { description: "counts", content: json({ type: "object" }) }, ...errors(503) },
      },
    },
    "/api/pool/agents": {
      get: {
        summary:
          "Every live instance by status ({claimed, crashed, idle, starting}); public fields only: id, status, name, template, ageSeconds (never invite URLs)",
        responses: { "200": { description: "agents", content: json({ type: "object" }) } },
      },
    },
    "/api/pool/info": {
      get: {
        summary:
          "The deployment: environment, version, commit, branch, model {source, id}, compute ids (Railway) or local; network; targets",
        responses: { "200": { description: "info", content: json({ type: "object" }) } },
      },
    },
    "/api/pool/templates": {
      get: {
        summary: "Template catalog",
        responses: { "200": { description: "templates", content: json({ type: "object" }) } },
      },
    },
    "/api/pool/templates/{slug}": {
      get: {
        summary: "One template",
        parameters: [{ name: "slug", in: "path", required: true, schema: { type: "string" } }],
        responses: { "200": { description: "template", content: json({ type: "object" }) }, ...errors(404) },
      },
    },
    "/api/pool/claim": {
      post: {
        summary: "Claim an idle agent and provision it",
        security: auth,
        parameters: [
          {
            name: "Idempotency-Key",
            in: "header",
            schema: { type: "string", maxLength: 200 },
            description: "Same key → same claim (replayed). Without it every request is a new claim.",
          },
          {
            name: "X-Client-Label",
            in: "header",
            schema: { type: "string" },
            description: "Recorded as the owner api:<label>.",
          },
        ],
        requestBody: { content: json(bodyOf(ClaimBody)) },
        responses: {
          "200": {
            description: "claimed",
            content: {
              ...json({
                type: "object",
                properties: {
                  instanceId: { type: "string" },
                  agentName: { type: "string" },
                  inviteUrl: { type: ["string", "null"] },
                  conversationId: { type: "string" },
                  joined: { type: "boolean" },
                  replayed: { type: "boolean" },
                },
              }),
              ...sse,
            },
          },
          ...errors(400, 401, 409, 413, 415, 502, 503),
        },
      },
    },
    "/api/pool/replenish": {
      post: {
        summary: "Start N instances",
        security: auth,
        requestBody: { content: json(bodyOf(Count)) },
        responses: {
          "200": { description: "created", content: { ...json({ type: "object" }), ...sse } },
          ...errors(400, 401, 413, 415),
        },
      },
    },
    "/api/pool/drain": {
      post: {
        summary: "Destroy N idle instances (default 1)",
        security: auth,
        requestBody: { content: json(bodyOf(OptionalCount)) },
        responses: {
          "200": { description: "drained", content: { ...json({ type: "object" }), ...sse } },
          ...errors(400, 401, 413, 415),
        },
      },
    },
    "/api/pool/reconcile": {
      post: {
        summary: "Run the reconcile tick now",
        security: auth,
        responses: { "200": { description: "tick report", content: json({ type: "object" }) }, ...errors(401) },
      },
    },
    "/api/pool/upgrade": {
      post: {
        summary:
          "Rolling upgrade: restart idle agents on the new runtime at once, then claimed ones one at a time on their state",
        description:
          "Answers when done with how many restarted and which failed and why (`idle`, `claimed`, `failures`, `durationMs`); with `Accept: text/event-stream` each agent's step is a `step` event. 409 while another upgrade runs, or when the compute cannot restart agents (Railway).",
        security: auth,
        responses: {
          "200": {
            description: "upgrade report",
            content: {
              ...json({
                type: "object",
                properties: {
                  idle: { type: "object", properties: { restarted: { type: "integer" }, failed: { type: "integer" } } },
                  claimed: {
                    type: "object",
                    properties: { restarted: { type: "integer" }, failed: { type: "integer" } },
                  },
                  failures: {
                    type: "array",
                    items: {
                      type: "object",
                      properties: {
                        instanceId: { type: "string" },
                        agentName: { type: ["string", "null"] },
                        was: { type: "string", enum: ["idle", "claimed"] },
                        reason: { type: "string" },
                      },
                    },
                  },
                  durationMs: { type: "integer" },
                },
              }),
              ...sse,
            },
          },
          ...errors(401, 409),
        },
      },
    },
    "/api/pool/instances": {
      get: {
        summary: "All instances (admin view), with each claimed or crashed agent's OpenRouter spend",
        security: auth,
        responses: {
          "200": {
            description: "instances",
            content: json({ type: "object", properties: { instances: { type: "array", items: instance } } }),
          },
          ...errors(401),
        },
      },
    },
    "/api/pool/instances/{id}": {
      delete: {
        summary: "Kill an instance",
        security: auth,
        parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }],
        responses: { "200": { description: "killed", content: json({ type: "object" }) }, ...errors(400, 401, 404) },
      },
    },
    "/api/pool/instances/{id}/topup": {
      post: {
        summary: "Raise the spending cap of the agent's OpenRouter key by amountUsd (recorded as a `topup` event)",
        security: auth,
        parameters: [
          { name: "id", in: "path", required: true, schema: { type: "string" } },
          {
            name: "Idempotency-Key",
            in: "header",
            schema: { type: "string", maxLength: 200 },
            description:
              "Same key → one top-up (the answer says replayed: true). Without it every request is a new top-up.",
          },
        ],
        requestBody: {
          content: json({
            type: "object",
            properties: {
              amountUsd: {
                type: "number",
                exclusiveMinimum: 0,
                multipleOf: 0.01,
                description: "USD to add; at most OPENROUTER_TOPUP_MAX (default 100) per top-up",
              },
            },
            required: ["amountUsd"],
            additionalProperties: false,
          }),
        },
        responses: {
          "200": {
            description: "topped up",
            content: json({
              type: "object",
              properties: {
                instanceId: { type: "string" },
                amountUsd: { type: "number" },
                limitUsd: { type: "number", description: "the key's new cap" },
              },
            }),
          },
          ...errors(400, 401, 404, 409, 413, 415, 502, 503),
        },
      },
    },
    "/api/pool/crashed/{id}": {
      delete: {
        summary: "Dismiss a crashed or dead instance",
        security: auth,
        parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }],
        responses: {
          "200": { description: "dismissed", content: json({ type: "object" }) },
          ...errors(400, 401, 404, 409),
        },
      },
    },
    "/api/prompts/{pageId}": {
      get: {
        summary:
          "An agent prompt kept on a Notion page (NOTION_API_KEY): its title and its blocks as plain text; read from Notion at most once an hour",
        parameters: [
          {
            name: "pageId",
            in: "path",
            required: true,
            schema: {
              type: "string",
              pattern: "^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$",
            },
          },
        ],
        responses: {
          "200": {
            description: "prompt",
            content: json({
              type: "object",
              properties: { name: { type: "string" }, prompt: { type: "string" } },
              required: ["name", "prompt"],
            }),
          },
          ...errors(400, 502, 503),
        },
      },
    },
    "/admin": {
      get: {
        summary: "Admin dashboard (session cookie from POST /admin/login with the API key)",
        responses: { "200": { description: "HTML" } },
      },
    },
  },
} as const
