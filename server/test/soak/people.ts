// The scripted people of the two-replica soak test: each joins the manager bot's invite on the devnet and, until the
// end of the soak, goes round /new → name → /skip (the claim) → /name → /agents → /release, waiting for each answer
// like a person does. Every message of the person's chat is recorded from its own stream (server order, each once),
// so the test can check afterwards that each message got its answer exactly once.
import { Effect, Stream } from "effect"
import { connectDevnet, generateIdentity, type MessagingClient } from "@convos-agents/messaging"
import { joinByInvite } from "@convos-agents/messaging/convos"

/** What one message must get back: `min`..`max` texts, each matching one of `allowed` (each pattern once), `done` last. */
interface Expect {
  readonly min: number
  readonly max: number
  readonly allowed: ReadonlyArray<RegExp>
  readonly done: RegExp
}

const one = (pattern: RegExp): Expect => ({ min: 1, max: 1, allowed: [pattern], done: pattern })

export interface Sent {
  readonly id: string
  readonly text: string
  readonly expect: Expect
  readonly sentAt: number
  /** When its answer was complete: its `done` reply, or `max` texts; null if it never was (abandoned, or a hang). */
  doneAt: number | null
}

export interface Recorded {
  readonly id: string
  readonly fromBot: boolean
  readonly text: string
}

export interface Person {
  readonly name: string
  readonly inboxId: string
  readonly chatId: string
  readonly sent: Array<Sent>
  /** The chat as this person's stream delivered it (own messages and the bot's texts), in order. */
  readonly chat: Array<Recorded>
  readonly client: MessagingClient
}

export const joinManager = (devnetUrl: string, invite: string, botInbox: string, name: string) =>
  Effect.gen(function* () {
    const identity = generateIdentity()
    const client = yield* connectDevnet(devnetUrl, identity, name)
    const joined = yield* joinByInvite(client, identity, invite, {
      profile: { name, kind: "human" },
      timeoutMs: 120_000,
      pollMs: 250,
    })
    if (joined._tag !== "Joined")
      return yield* Effect.fail(new Error(`${name} could not join the manager: ${joined._tag}`))
    const chatId = joined.conversationId
    const chat: Array<Recorded> = []
    yield* client.stream({ afterMs: 0 }).pipe(
      Stream.runForEach((m) =>
        Effect.sync(() => {
          if (m.conversationId !== chatId || m.text === null) return
          if (m.senderInboxId === botInbox) chat.push({ id: m.id, fromBot: true, text: m.text })
          else if (m.senderInboxId === identity.inboxId) chat.push({ id: m.id, fromBot: false, text: m.text })
        }),
      ),
      Effect.forkScoped,
    )
    return { name, inboxId: identity.inboxId, chatId, sent: [], chat, client } satisfies Person
  })

const botTextsAfter = (p: Person, messageId: string) => {
  const at = p.chat.findIndex((r) => r.id === messageId)
  return at < 0 ? [] : p.chat.slice(at + 1).filter((r) => r.fromBot)
}

/**
 * Whether a message will never get (the rest of) its answer: the process that claimed its answer is dead. Asked of the
 * database by the test, so a person stops waiting for exactly those, however slow the machine is.
 */
export type Abandoned = (messageId: string) => Promise<boolean>

/**
 * Sends one message and waits for its `done` reply; false (recorded, not thrown) when its answer was abandoned, or
 * after `timeoutMs` (a guard against a hang, not a bound: the test then fails on that message).
 */
const say = (p: Person, text: string, expect: Expect, timeoutMs: number, abandoned: Abandoned) =>
  Effect.gen(function* () {
    const sentAt = Date.now()
    const id = yield* p.client.sendText(p.chatId, text)
    const sent: Sent = { id, text, expect, sentAt, doneAt: null }
    p.sent.push(sent)
    const deadline = sentAt + timeoutMs
    for (let n = 1; Date.now() < deadline; n++) {
      const texts = botTextsAfter(p, id)
      if (texts.some((r) => expect.done.test(r.text)) || texts.length >= expect.max) {
        sent.doneAt = Date.now()
        return texts.some((r) => expect.done.test(r.text))
      }
      if (n % 20 === 0 && (yield* Effect.promise(() => abandoned(id)))) return false
      yield* Effect.sleep(50)
    }
    return false
  })

/**
 * The claim's answer ("/skip" to the instructions question): "Setting up …", maybe "No agent is free …", then the
 * invite or a refusal. At least the last: a /new whose process died is resumed by another one, which sends only the
 * final text (the killed one may have claimed "Setting up …" and died before sending it).
 */
export const claimReplies: Expect = {
  min: 1,
  max: 3,
  allowed: [/^Setting up /, /^No agent is free right now/, /is ready\. Open this link|Say \/new to try again/],
  done: /is ready\. Open this link|Say \/new to try again/,
}

/** The person's script until `until` (ms): whole rounds; after a message left unanswered, /cancel and start over. */
export const chatUntil = (p: Person, until: number, stepTimeoutMs: number, abandoned: Abandoned) =>
  Effect.gen(function* () {
    const pause = Effect.suspend(() => Effect.sleep(200 + Math.floor(Math.random() * 800)))
    for (let round = 0; Date.now() < until; round++) {
      const name = `${p.name}n${round}`
      const renamed = `${p.name}r${round}`
      const script: ReadonlyArray<readonly [string, Expect]> = [
        ["/new", one(/What should it be called\?/)],
        [name, one(new RegExp(`^Great: ${name}\\. What should it do\\?`))],
        ["/skip", claimReplies],
        [`/name ${name} ${renamed}`, one(new RegExp(`^Done: your agent is now called ${renamed}\\.`))],
        ["/agents", one(new RegExp(`^Your agents:[^]*${renamed}`))],
        [`/release ${renamed}`, one(new RegExp(`^${renamed} was released and shut down\\.`))],
      ]
      for (const [text, expect] of script) {
        if (Date.now() >= until) return
        if (!(yield* say(p, text, expect, stepTimeoutMs, abandoned))) {
          // No answer (a message cut by the kill), or another one than the script's (a command re-run after a takeover,
          // a failed claim): whatever the dialog's state, /cancel gets one answer, and the next round starts afresh.
          yield* say(p, "/cancel", one(/./), stepTimeoutMs, abandoned)
          break
        }
        yield* pause
      }
    }
  })

export interface Verdict {
  readonly messages: number
  /** Each /new's claim message: answered with its invite, a clear refusal, or (a failure) nothing final. */
  readonly claims: { readonly sent: number; readonly invites: number; readonly refusals: number }
  readonly claimsWithoutAnswer: ReadonlyArray<string>
  readonly answers: number
  /** Messages sent before the kill whose answer had not arrived by then, and never arrived. */
  readonly cutByKill: ReadonlyArray<string>
  /** Messages taken over from the killed replica whose (one) answer is not the script's: the command ran again. */
  readonly rerunAnswers: ReadonlyArray<string>
  readonly problems: ReadonlyArray<string>
}

/**
 * Each message's texts are the bot's texts between it and the person's next message (a person waits for the answer
 * before the next one, so a second answer, even a late one, lands in some segment and breaks its count or pattern).
 * A message sent before the kill, held by the killed replica (`heldByKilled`) and not answered by then may have fewer
 * texts (its answer was claimed and the process died: unanswered rather than answered twice); one another replica took
 * over (`takenOver`) gets one answer, maybe not the script's; every other message gets exactly the script's answer.
 */
export const judge = (
  p: Person,
  killedAt: number,
  heldByKilled: (messageId: string) => boolean,
  takenOver: (messageId: string) => boolean,
): Verdict => {
  const problems: string[] = []
  const cutByKill: string[] = []
  const rerunAnswers: string[] = []
  let answers = 0
  const claims = { sent: 0, invites: 0, refusals: 0 }
  const claimsWithoutAnswer: string[] = []
  const userIdx = p.chat.flatMap((r, i) => (r.fromBot ? [] : [i]))
  const welcome = p.chat.slice(0, userIdx[0] ?? p.chat.length).filter((r) => r.fromBot)
  if (welcome.length !== 1) problems.push(`${p.name}: ${welcome.length} welcome texts (expected 1)`)
  const byId = new Map(p.sent.map((s) => [s.id, s]))
  if (userIdx.length !== p.sent.length)
    problems.push(`${p.name}: stream shows ${userIdx.length} own messages, ${p.sent.length} were sent`)
  userIdx.forEach((at, n) => {
    const mine = p.chat[at]!
    const sent = byId.get(mine.id)
    if (!sent) {
      problems.push(`${p.name}: unknown own message "${mine.text}"`)
      return
    }
    const texts = p.chat.slice(at + 1, userIdx[n + 1] ?? p.chat.length).map((r) => r.text)
    const e = sent.expect
    const unmatched = texts.filter((t) => !e.allowed.some((a) => a.test(t)))
    const repeated = e.allowed.filter((a) => texts.filter((t) => a.test(t)).length > 1)
    const cut = sent.doneAt === null
    if (cut && sent.sentAt < killedAt && heldByKilled(sent.id))
      cutByKill.push(`${p.name}: "${sent.text}" got ${texts.length} text(s)`)
    else if (cut) problems.push(`${p.name}: "${sent.text}" was never answered (not a message the killed replica held)`)
    else answers++
    if (e === claimReplies) {
      claims.sent++
      if (texts.some((t) => /is ready\. Open this link/.test(t))) claims.invites++
      else if (texts.some((t) => /Say \/new( \S+)? to try again/.test(t))) claims.refusals++
      else claimsWithoutAnswer.push(`${p.name}: "${sent.text}" got ${JSON.stringify(texts)}`)
    }
    const tooMany = texts.length > e.max
    const tooFew = !cut && texts.length < e.min
    const scriptless = unmatched.length > 0 || repeated.length > 0
    // A message the killed replica had begun is run again by the one that takes it over: what the first run did
    // (released the agent) can change the one answer it gets ("You have no agents yet"). One answer still.
    if (!cut && !tooMany && !tooFew && scriptless && takenOver(sent.id))
      rerunAnswers.push(`${p.name}: "${sent.text}" → ${JSON.stringify(texts)}`)
    else if (tooMany || tooFew || scriptless)
      problems.push(
        `${p.name}: "${sent.text}" got ${JSON.stringify(texts)} (expected ${e.min}–${e.max} of ${e.allowed})`,
      )
  })
  return { messages: p.sent.length, claims, claimsWithoutAnswer, answers, cutByKill, rerunAnswers, problems }
}
