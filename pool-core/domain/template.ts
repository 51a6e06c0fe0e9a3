import { Schema } from "effect"
import { ModelId } from "@convos-agents/contract"

/** An agent template from the checked-in catalog (pool-core/db/templates.json), loaded into `templates` at start. */
export class Template extends Schema.Class<Template>("pool-core/domain/Template")({
  slug: Schema.String.check(Schema.isPattern(/^[a-z0-9]+(-[a-z0-9]+)*$/)),
  name: Schema.NonEmptyString,
  description: Schema.NonEmptyString,
  category: Schema.NonEmptyString,
  emoji: Schema.String,
  /** Skill ids the runtime enables for this template (e.g. "agentmail", "telnyx", "bankr", "web"). */
  skills: Schema.Array(Schema.String),
  /** Default instructions, used when the person keeps the defaults (/skip). */
  instructions: Schema.NonEmptyString,
  /**
   * A Notion page that holds this template's instructions (32 hex digits, dashes allowed). With NOTION_API_KEY set, a
   * claim that keeps the defaults uses the page's text (cached 1 h); `instructions` stays the fallback when Notion
   * cannot be read.
   */
  /**
   * The model this template's agents think with (an id the model server or OpenRouter knows); absent or null: the
   * configured model. The operator writes it, so it needs no MODELS_ALLOWED entry; owners switch with `/model`.
   */
  model: Schema.optional(Schema.NullOr(ModelId)),
  notionPageId: Schema.optional(
    Schema.NullOr(
      Schema.String.check(
        Schema.isPattern(/^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/),
      ),
    ),
  ),
}) {}
