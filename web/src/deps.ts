import { Effect, type ManagedRuntime, Scope } from "effect"
import type { Pool } from "@convos-agents/pool-core"
import { Messaging } from "@convos-agents/messaging"
import { makeDevnetChat, type DevnetChat, type DevnetChatOptions } from "./chat/DevnetChat.ts"
import type { RateLimitOptions } from "@convos-agents/pool-core/api/rate-limit"

export type Network = "devnet" | "dev" | "production"

/** What the web catalog needs from the process that mounts it (server/src/main.ts). */
export interface WebDeps {
  /** Runs an Effect against the Pool (templates, claim, get). */
  readonly run: <A, E>(effect: Effect.Effect<A, E, Pool>) => Promise<A>
  readonly network: Network
  /** The manager bot's public invite; null while the bot is still starting. */
  readonly managerInviteUrl: () => string | null
  /**
   * Optional: an invite of the manager bot that preselects a template (a per-template invite the bot honours).
   * Without it the template pages show the plain manager invite plus the hint "send /new <slug>".
   */
  readonly templateInviteUrl?: (slug: string) => string | null
  /** Devnet only: the browser chat (see makeDevnetChat). Without it /chat answers 404. */
  readonly chat?: DevnetChat
  /** Public origin (e.g. https://agents.example.com) for absolute Open Graph URLs; default: the request's origin. */
  readonly publicUrl?: string
  /** Claims (launch + join) per visitor; default 5 per 10 minutes per IP and per visitor cookie. */
  readonly rateLimit?: RateLimitOptions
  /**
   * TRUST_PROXY: the proxies you run in front of this server (default 0: the socket address is the client). With N,
   * the client IP is the Nth X-Forwarded-For entry from the right, and X-Forwarded-Proto https makes cookies Secure.
   */
  readonly trustProxy?: number
}

export interface WebFromContextOptions extends Omit<WebDeps, "run" | "chat"> {
  readonly chat?: DevnetChatOptions
}

/**
 * Builds the deps from the ambient services: Pool, and (devnet) Messaging for the browser chat whose visitor
 * connections close with the scope. Use: `const app = makeWebApp(yield* webDepsFromContext({ network, managerInviteUrl }))`.
 */
export const webDepsFromContext = (
  options: WebFromContextOptions,
): Effect.Effect<WebDeps, never, Pool | Messaging | Scope.Scope> =>
  Effect.gen(function* () {
    const context = yield* Effect.context<Pool>()
    const { chat: chatOptions, ...rest } = options
    const chat = options.network === "devnet" ? yield* makeDevnetChat(chatOptions) : undefined
    const run = <A, E>(effect: Effect.Effect<A, E, Pool>) => Effect.runPromiseWith(context)(effect)
    return { ...rest, run, ...(chat ? { chat } : {}) } satisfies WebDeps
  })

/** The manager bot as the web needs it (manager-bot/src/ManagerBot.ts ManagerBotInfo). */
export interface ManagerBotLike {
  /** The bot's lobby invite; with a template slug, the invite that opens the manager chat with that template. */
  readonly inviteUrl: (templateSlug?: string) => string
}

/** How server/src/http.ts mounts the web: the app's ManagedRuntime (Pool + Messaging built) and the bot. */
export interface RuntimeMount extends Partial<Pick<WebDeps, "publicUrl" | "rateLimit" | "trustProxy">> {
  readonly runtime: ManagedRuntime.ManagedRuntime<Pool | Messaging, unknown>
  readonly bot: ManagerBotLike
}

/**
 * Deps from a built ManagedRuntime (synchronous, so http.ts can mount without awaiting): the browser chat's visitor
 * connections live in a child of the runtime's scope, so `runtime.dispose()` closes them.
 */
export const webDepsFromRuntime = (mount: RuntimeMount): WebDeps => {
  const { runtime, bot, ...rest } = mount
  const network = runtime.runSync(Messaging.useSync((m) => m.network))
  const chat =
    network === "devnet"
      ? runtime.runSync(
          Effect.flatMap(Scope.fork(runtime.scope), (scope) => makeDevnetChat().pipe(Scope.provide(scope))),
        )
      : undefined
  return {
    ...rest,
    network,
    run: (effect) => runtime.runPromise(effect),
    managerInviteUrl: () => bot.inviteUrl(),
    templateInviteUrl: (slug) => bot.inviteUrl(slug),
    ...(chat ? { chat } : {}),
  }
}
