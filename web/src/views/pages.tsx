/** @jsxImportSource hono/jsx */
import type { Template } from "@convos-agents/pool-core"
import { Layout, Qr, Skills } from "./layout.tsx"
import { OG_HEIGHT, OG_WIDTH } from "../og.ts"

export interface InviteBox {
  readonly url: string
  readonly svg: string
}

/** "Join my conversation": send an agent (optionally of a template) into the visitor's own Convos conversation. */
const JoinForm = (props: { readonly template?: Template; readonly nonce: string; readonly value?: string }) => (
  <form method="post" action="/join" class="card" aria-label="Join my conversation">
    <h3>Join my conversation</h3>
    <p class="note">Paste the invite link of your Convos conversation (Share → Copy link) and an agent joins it.</p>
    <input
      type="url"
      name="invite"
      required
      placeholder="https://popup.convos.org/v2?i=…"
      value={props.value ?? ""}
      aria-label="Convos invite link"
    />
    {props.template ? <input type="hidden" name="template" value={props.template.slug} /> : null}
    <input type="hidden" name="nonce" value={props.nonce} />
    <p>
      <button class="button" type="submit">
        Send an agent
      </button>
    </p>
  </form>
)

const ManagerBox = (props: { readonly invite: InviteBox | null; readonly devnet: boolean; readonly hint?: string }) =>
  props.invite ? (
    <div class="qrbox">
      <Qr svg={props.invite.svg} text={props.invite.url} />
      <div>
        <p>
          <a class="button" href={props.invite.url}>
            Chat with the manager
          </a>
        </p>
        {props.hint ? <p>{props.hint}</p> : null}
        <p class="note">Scan with the Convos app, or open the link on your phone.</p>
        {props.devnet ? (
          <p>
            <a href={`/chat?invite=${encodeURIComponent(props.invite.url)}`}>
              Open the manager chat in this browser (devnet)
            </a>
          </p>
        ) : null}
      </div>
    </div>
  ) : (
    <p class="note">The manager bot is still starting: reload this page in a few seconds.</p>
  )

export const HomePage = (props: {
  readonly templates: ReadonlyArray<Template>
  readonly categories: ReadonlyArray<string>
  readonly active: string | null
  readonly manager: InviteBox | null
  readonly devnet: boolean
  readonly nonce: string
}) => (
  <Layout
    meta={{ title: "Convos agents", description: "Pick an AI agent for your Convos group chat: scan, launch, chat." }}
  >
    <h1>AI agents for your group chats</h1>
    <section aria-label="Manager">
      <ManagerBox invite={props.manager} devnet={props.devnet} />
    </section>
    <h2>Templates</h2>
    <ul class="pills" aria-label="categories">
      <li>
        <a class="pill" href="/" aria-current={props.active === null ? "page" : undefined}>
          All
        </a>
      </li>
      {props.categories.map((c) => (
        <li>
          <a
            class="pill"
            href={`/?category=${encodeURIComponent(c)}`}
            aria-current={props.active === c ? "page" : undefined}
          >
            {c}
          </a>
        </li>
      ))}
    </ul>
    {props.templates.length === 0 ? (
      <p>
        No templates in this category. <a href="/">Show all templates</a>.
      </p>
    ) : null}
    <ul class="grid" aria-label="templates">
      {props.templates.map((t) => (
        <li class="card" data-category={t.category}>
          <h3>
            <a href={`/t/${t.slug}`}>
              {t.emoji} {t.name}
            </a>
          </h3>
          <p class="note">{t.category}</p>
          <p>{t.description}</p>
          <Skills skills={t.skills} />
        </li>
      ))}
    </ul>
    <JoinForm nonce={props.nonce} />
  </Layout>
)

export const TemplatePage = (props: {
  readonly template: Template
  readonly start: InviteBox | null
  readonly hint: string
  readonly devnet: boolean
  readonly origin: string
  /** One form token per action: a Join must never reuse the Launch's token (it would replay that launch). */
  readonly launchNonce: string
  readonly joinNonce: string
}) => {
  const t = props.template
  return (
    <Layout
      meta={{
        title: `${t.name} · Convos agents`,
        description: t.description,
        ogImage: {
          url: `${props.origin}/t/${t.slug}/og.png`,
          width: OG_WIDTH,
          height: OG_HEIGHT,
          type: "image/png",
          alt: `${t.name}: ${t.description}`,
        },
        canonical: `${props.origin}/t/${t.slug}`,
      }}
    >
      <p>
        <a href="/">← All templates</a>
      </p>
      <h1>
        {t.emoji} {t.name}
      </h1>
      <p class="note">{t.category}</p>
      <p>{t.description}</p>
      <Skills skills={t.skills} />
      <h2>Launch it now</h2>
      <form method="post" action={`/t/${t.slug}/launch`}>
        <input type="hidden" name="nonce" value={props.launchNonce} />
        <button class="button" type="submit">
          Launch
        </button>
        <span class="note"> Creates a new conversation with this agent and shows its invite.</span>
      </form>
      <h2>Or set it up with the manager</h2>
      <ManagerBox invite={props.start} devnet={props.devnet} hint={props.hint} />
      <p>
        <a href={`/start/${t.slug}`}>Start the manager chat with {t.name}</a>
      </p>
      <JoinForm template={t} nonce={props.joinNonce} />
    </Layout>
  )
}

export const StartPage = (props: {
  readonly template: Template
  readonly start: InviteBox | null
  readonly hint: string
  readonly devnet: boolean
}) => (
  <Layout meta={{ title: `Start ${props.template.name} · Convos agents`, description: props.template.description }}>
    <h1>
      Start {props.template.emoji} {props.template.name} with the manager
    </h1>
    <ManagerBox invite={props.start} devnet={props.devnet} hint={props.hint} />
  </Layout>
)

export const LaunchedPage = (props: {
  readonly template: Template | null
  readonly agentName: string
  readonly invite: InviteBox | null
  readonly joined: boolean
  readonly devnet: boolean
  readonly chatUrl: string | null
}) => (
  <Layout meta={{ title: `${props.agentName} is ready · Convos agents` }}>
    <h1>{props.joined ? `${props.agentName} is joining your conversation` : `${props.agentName} is ready`}</h1>
    {props.invite ? (
      <div class="qrbox">
        <Qr svg={props.invite.svg} text={props.invite.url} />
        <div>
          <p>Scan to open the conversation with your agent in Convos, or open the link:</p>
          <p>
            <a id="agent-invite" href={props.invite.url}>
              {props.invite.url}
            </a>
          </p>
        </div>
      </div>
    ) : (
      <p>Your agent asked to join. It appears in the conversation once its owner's Convos app lets it in.</p>
    )}
    {props.devnet && props.chatUrl ? (
      <p>
        <a class="button" id="open-chat" href={props.chatUrl}>
          Open the chat in this browser (devnet)
        </a>
      </p>
    ) : null}
    <p>
      <a href={props.template ? `/t/${props.template.slug}` : "/"}>← Back</a>
    </p>
  </Layout>
)

export const ErrorPage = (props: {
  readonly status: number
  readonly title: string
  readonly message: string
  readonly back?: string
}) => (
  <Layout meta={{ title: `${props.title} · Convos agents` }}>
    <h1>{props.title}</h1>
    <p class="error" role="alert" data-status={String(props.status)}>
      {props.message}
    </p>
    <p>
      <a href={props.back ?? "/"}>
        {props.back && props.back !== "/" ? "← Go back and try again" : "← Back to the templates"}
      </a>
    </p>
  </Layout>
)
