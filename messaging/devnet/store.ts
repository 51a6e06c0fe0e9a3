// The devnet network's state and rules, persisted in SQLite (node:sqlite) so a restarted server keeps every identity,
// conversation, membership interval, consent and message. Rules mirror XMTP/Convos (see research notes §6):
// creator = super admin, only admins change membership/metadata, unknown inboxes cannot be added, members see only
// messages sent while they were members, consent is per (inbox, conversation) and denied conversations are not streamed.
import { DatabaseSync } from "node:sqlite"
import { Data } from "effect"
import { mkdirSync } from "node:fs"
import { join } from "node:path"
import { randomHex } from "../identity.ts"
import {
  SCHEMA,
  type MessageRow,
  toWireMessage,
  type WireConversation,
  type WireMember,
  type WireMessage,
  type WireOutgoing,
} from "./wire.ts"

/** A rule violation; `reason` maps to MessagingError.reason, `status` to the HTTP status. */
export class DevnetRefusal extends Data.TaggedError("DevnetRefusal")<{
  readonly reason: string
  readonly message: string
  readonly status: number
}> {}

const refuse = (reason: string, message: string, status: number): never => {
  throw new DevnetRefusal({ reason, message, status })
}

const MAX_APP_DATA = 8192
const MAX_CONTENT = 1024 * 1024
const GROUP_UPDATED = { authorityId: "xmtp.org", typeId: "group_updated", versionMajor: 1, versionMinor: 0 }

interface ConversationRow {
  id: string
  kind: "group" | "dm"
  name: string | null
  description: string | null
  app_data: string | null
  creator: string
  created_ms: number
  dm_a: string | null
  dm_b: string | null
}

export class DevnetStore {
  private readonly db: DatabaseSync
  private lastSentMs: number

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true })
    this.db = new DatabaseSync(join(dataDir, "devnet.sqlite"))
    this.db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;")
    this.db.exec(SCHEMA)
    const row = this.db.prepare("SELECT COALESCE(MAX(sent_ms), 0) AS m FROM messages").get() as { m: number }
    this.lastSentMs = row.m
  }

  close(): void {
    this.db.close()
  }

  private tx<A>(f: () => A): A {
    this.db.exec("BEGIN IMMEDIATE")
    try {
      const a = f()
      this.db.exec("COMMIT")
      return a
    } catch (e) {
      this.db.exec("ROLLBACK")
      throw e
    }
  }

  // ---- identities and sessions ----
  register(inboxId: string, address: string, label: string | null): string {
    const token = randomHex(32)
    this.tx(() => {
      this.db
        .prepare(
          "INSERT INTO identities (inbox_id, address, label, created_ms) VALUES (?, ?, ?, ?) ON CONFLICT (inbox_id) DO UPDATE SET label = COALESCE(excluded.label, identities.label)",
        )
        .run(inboxId, address, label, Date.now())
      this.db.prepare("INSERT INTO sessions (token, inbox_id) VALUES (?, ?)").run(token, inboxId)
    })
    return token
  }

  inboxForToken(token: string): string | undefined {
    const row = this.db.prepare("SELECT inbox_id FROM sessions WHERE token = ?").get(token) as
      | { inbox_id: string }
      | undefined
    return row?.inbox_id
  }

  private requireKnown(inboxIds: ReadonlyArray<string>): void {
    for (const id of inboxIds) {
      if (!this.db.prepare("SELECT 1 FROM identities WHERE inbox_id = ?").get(id)) {
        refuse(
          "unknown-inbox",
          `Inbox ${id} is not registered on this devnet; that identity must connect once before it can be added.`,
          404,
        )
      }
    }
  }

  // ---- conversations ----
  private conversationRow(id: string): ConversationRow | undefined {
    return this.db.prepare("SELECT * FROM conversations WHERE id = ?").get(id) as ConversationRow | undefined
  }

  private everMember(conv: string, inbox: string): boolean {
    return !!this.db.prepare("SELECT 1 FROM members WHERE conv = ? AND inbox = ?").get(conv, inbox)
  }

  private currentRole(conv: string, inbox: string): WireMember["role"] | undefined {
    const row = this.db
      .prepare("SELECT role FROM members WHERE conv = ? AND inbox = ? AND to_seq IS NULL")
      .get(conv, inbox) as { role: WireMember["role"] } | undefined
    return row?.role
  }

  private visibleConversation(caller: string, id: string): ConversationRow {
    const row = this.conversationRow(id)
    if (!row || !this.everMember(id, caller))
      return refuse("not-found", `Conversation ${id} does not exist or you were never a member of it.`, 404)
    return row
  }

  private wireConversation(caller: string, row: ConversationRow): WireConversation {
    return {
      id: row.id,
      kind: row.kind,
      name: row.name,
      description: row.description,
      appData: row.app_data,
      creatorInboxId: row.creator,
      createdAtMs: row.created_ms,
      peerInboxId: row.kind === "dm" ? (row.dm_a === caller ? row.dm_b : row.dm_a) : null,
    }
  }

  private setConsentRow(inbox: string, conv: string, state: string, overwrite: boolean): void {
    this.db
      .prepare(
        `INSERT INTO consent (inbox, conv, state) VALUES (?, ?, ?) ON CONFLICT (inbox, conv) DO ${overwrite ? "UPDATE SET state = excluded.state" : "NOTHING"}`,
      )
      .run(inbox, conv, state)
  }

  private nextSentMs(): number {
    // Strictly increasing so `afterMs` resumption never skips a message sharing a millisecond with the last one seen.
    this.lastSentMs = Math.max(Date.now(), this.lastSentMs + 1)
    return this.lastSentMs
  }

  private insertMessage(
    conv: string,
    sender: string,
    kind: "application" | "membership_change",
    out: WireOutgoing,
    membership: string | null,
  ): MessageRow {
    const id = randomHex(32)
    const sentMs = this.nextSentMs()
    const ct = out.contentType
    const result = this.db
      .prepare(`INSERT INTO messages (id, conv, sender, sent_ms, kind, ct_authority, ct_type, ct_major, ct_minor, content, fallback, should_push, membership)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(
        id,
        conv,
        sender,
        sentMs,
        kind,
        ct.authorityId,
        ct.typeId,
        ct.versionMajor,
        ct.versionMinor,
        Buffer.from(out.content, "base64"),
        out.fallback ?? null,
        out.shouldPush ? 1 : 0,
        membership,
      )
    return this.db.prepare("SELECT * FROM messages WHERE seq = ?").get(result.lastInsertRowid) as unknown as MessageRow
  }

  /** A group_updated commit, as XMTP emits for membership and metadata changes (content: GroupUpdated as JSON). */
  private membershipMessage(
    conv: string,
    by: string,
    added: ReadonlyArray<string>,
    removed: ReadonlyArray<string>,
    metadataFieldChanges: ReadonlyArray<{ fieldName: string; newValue: string }> = [],
    /** Further GroupUpdated fields (leftInboxes, addedSuperAdminInboxes …). */
    extra: Record<string, ReadonlyArray<{ inboxId: string }>> = {},
  ): MessageRow {
    const membership = { added: [...added], removed: [...removed], by }
    const content = Buffer.from(
      JSON.stringify({
        initiatedByInboxId: by,
        addedInboxes: added.map((inboxId) => ({ inboxId })),
        removedInboxes: removed.map((inboxId) => ({ inboxId })),
        metadataFieldChanges,
        ...extra,
      }),
    ).toString("base64")
    return this.insertMessage(
      conv,
      by,
      "membership_change",
      { contentType: GROUP_UPDATED, content },
      JSON.stringify(membership),
    )
  }

  createGroup(
    caller: string,
    members: ReadonlyArray<string>,
    options: { name?: string | undefined; description?: string | undefined; appData?: string | undefined },
  ): WireConversation {
    const others = [...new Set(members)].filter((m) => m !== caller)
    this.requireKnown(others)
    if ((options.appData?.length ?? 0) > MAX_APP_DATA)
      refuse("invalid", `appData is limited to ${MAX_APP_DATA} characters.`, 400)
    return this.tx(() => {
      const id = randomHex(16)
      this.db
        .prepare(
          "INSERT INTO conversations (id, kind, name, description, app_data, creator, created_ms) VALUES (?, 'group', ?, ?, ?, ?, ?)",
        )
        .run(id, options.name ?? null, options.description ?? null, options.appData ?? null, caller, Date.now())
      this.db
        .prepare("INSERT INTO members (conv, inbox, role, from_seq) VALUES (?, ?, 'super_admin', 0)")
        .run(id, caller)
      this.setConsentRow(caller, id, "allowed", true)
      if (others.length > 0) {
        const msg = this.membershipMessage(id, caller, others, [])
        for (const m of others) {
          this.db
            .prepare("INSERT INTO members (conv, inbox, role, from_seq) VALUES (?, ?, 'member', ?)")
            .run(id, m, msg.seq)
          this.setConsentRow(m, id, "unknown", false)
        }
      }
      return this.wireConversation(caller, this.conversationRow(id)!)
    })
  }

  dm(caller: string, peer: string): WireConversation {
    if (peer === caller) refuse("invalid", "A DM needs another inbox; you cannot open a DM with yourself.", 400)
    this.requireKnown([peer])
    const [a, b] = caller < peer ? [caller, peer] : [peer, caller]
    return this.tx(() => {
      const existing = this.db
        .prepare("SELECT * FROM conversations WHERE kind = 'dm' AND dm_a = ? AND dm_b = ?")
        .get(a, b) as ConversationRow | undefined
      if (existing) return this.wireConversation(caller, existing)
      const id = randomHex(16)
      this.db
        .prepare("INSERT INTO conversations (id, kind, creator, created_ms, dm_a, dm_b) VALUES (?, 'dm', ?, ?, ?, ?)")
        .run(id, caller, Date.now(), a, b)
      for (const m of [a, b])
        this.db.prepare("INSERT INTO members (conv, inbox, role, from_seq) VALUES (?, ?, 'member', 0)").run(id, m)
      this.setConsentRow(caller, id, "allowed", true)
      this.setConsentRow(peer, id, "unknown", false)
      return this.wireConversation(caller, this.conversationRow(id)!)
    })
  }

  conversation(caller: string, id: string): WireConversation | null {
    const row = this.conversationRow(id)
    return row && this.everMember(id, caller) ? this.wireConversation(caller, row) : null
  }

  conversations(caller: string): WireConversation[] {
    const rows = this.db
      .prepare(
        "SELECT DISTINCT c.* FROM conversations c JOIN members m ON m.conv = c.id WHERE m.inbox = ? ORDER BY c.created_ms, c.id",
      )
      .all(caller) as unknown as ConversationRow[]
    return rows.map((r) => this.wireConversation(caller, r))
  }

  members(caller: string, conv: string): WireMember[] {
    this.visibleConversation(caller, conv)
    return this.db
      .prepare("SELECT inbox AS inboxId, role FROM members WHERE conv = ? AND to_seq IS NULL ORDER BY rowid")
      .all(conv) as unknown as WireMember[]
  }

  private requireAdmin(caller: string, conv: string, what: string): ConversationRow {
    const row = this.visibleConversation(caller, conv)
    if (row.kind !== "group") refuse("invalid", `Conversation ${conv} is a DM; only groups can ${what}.`, 400)
    const role = this.currentRole(conv, caller)
    if (!role) refuse("not-member", `You are no longer a member of conversation ${conv}.`, 403)
    if (role === "member")
      refuse(
        "forbidden",
        `Only admins can ${what} in this group; ask its creator to do it or to make you an admin.`,
        403,
      )
    return row
  }

  addMembers(caller: string, conv: string, inboxIds: ReadonlyArray<string>): void {
    this.requireAdmin(caller, conv, "add members")
    this.requireKnown(inboxIds)
    this.tx(() => {
      const fresh = [...new Set(inboxIds)].filter((m) => !this.currentRole(conv, m))
      if (fresh.length === 0) return
      const msg = this.membershipMessage(conv, caller, fresh, [])
      for (const m of fresh) {
        this.db
          .prepare("INSERT INTO members (conv, inbox, role, from_seq) VALUES (?, ?, 'member', ?)")
          .run(conv, m, msg.seq)
        this.setConsentRow(m, conv, "unknown", false)
      }
    })
  }

  removeMembers(caller: string, conv: string, inboxIds: ReadonlyArray<string>): void {
    this.requireAdmin(caller, conv, "remove members")
    const targets = [...new Set(inboxIds)]
    for (const m of targets) {
      const role = this.currentRole(conv, m)
      if (!role) refuse("not-member", `Inbox ${m} is not a member of conversation ${conv}.`, 400)
      if (role === "super_admin")
        refuse("forbidden", `Inbox ${m} is the group's super admin and cannot be removed.`, 403)
    }
    if (targets.length === 0) return
    this.tx(() => {
      const msg = this.membershipMessage(conv, caller, [], targets)
      // The removal commit is the last message a removed member sees.
      for (const m of targets)
        this.db
          .prepare("UPDATE members SET to_seq = ? WHERE conv = ? AND inbox = ? AND to_seq IS NULL")
          .run(msg.seq, conv, m)
    })
  }

  /**
   * The caller leaves a group (XMTP's leave request, committed at once here). A sole super admin first hands the role to
   * the longest-standing other member, as Convos does, so the group keeps one; the last member cannot leave (XMTP
   * refuses the 1 -> 0 commit). The leaver's consent becomes denied, as Convos hides a conversation it left.
   */
  leave(caller: string, conv: string): void {
    const row = this.visibleConversation(caller, conv)
    if (row.kind !== "group") refuse("invalid", `Conversation ${conv} is a DM; only groups can be left.`, 400)
    const role = this.currentRole(conv, caller)
    if (!role) refuse("not-member", `You are no longer a member of conversation ${conv}.`, 403)
    const members = this.db
      .prepare("SELECT inbox, role FROM members WHERE conv = ? AND to_seq IS NULL ORDER BY rowid")
      .all(conv) as unknown as { inbox: string; role: WireMember["role"] }[]
    const others = members.filter((m) => m.inbox !== caller)
    if (others.length === 0)
      refuse("invalid", `You are the only member of conversation ${conv}; there is nobody to leave it to.`, 400)
    this.tx(() => {
      if (role === "super_admin" && !others.some((m) => m.role === "super_admin")) {
        const heir = others[0]!.inbox
        this.db
          .prepare("UPDATE members SET role = 'super_admin' WHERE conv = ? AND inbox = ? AND to_seq IS NULL")
          .run(conv, heir)
        this.membershipMessage(conv, caller, [], [], [], { addedSuperAdminInboxes: [{ inboxId: heir }] })
      }
      const msg = this.membershipMessage(conv, caller, [], [caller], [], { leftInboxes: [{ inboxId: caller }] })
      this.db
        .prepare("UPDATE members SET to_seq = ? WHERE conv = ? AND inbox = ? AND to_seq IS NULL")
        .run(msg.seq, conv, caller)
      this.setConsentRow(caller, conv, "denied", true)
    })
  }

  updateGroup(
    caller: string,
    conv: string,
    options: { name?: string | undefined; description?: string | undefined; appData?: string | undefined },
  ): void {
    this.requireAdmin(caller, conv, "change the group's name, description or app data")
    if ((options.appData?.length ?? 0) > MAX_APP_DATA)
      refuse("invalid", `appData is limited to ${MAX_APP_DATA} characters.`, 400)
    const changes = (
      [
        ["group_name", options.name],
        ["description", options.description],
        ["app_data", options.appData],
      ] as const
    )
      .filter(([, v]) => v !== undefined)
      .map(([fieldName, newValue]) => ({ fieldName, newValue: newValue! }))
    if (changes.length === 0) return
    this.tx(() => {
      this.db
        .prepare(
          "UPDATE conversations SET name = COALESCE(?, name), description = COALESCE(?, description), app_data = COALESCE(?, app_data) WHERE id = ?",
        )
        .run(options.name ?? null, options.description ?? null, options.appData ?? null, conv)
      this.membershipMessage(conv, caller, [], [], changes)
    })
  }

  send(caller: string, conv: string, out: WireOutgoing): WireMessage {
    this.visibleConversation(caller, conv)
    if (!this.currentRole(conv, caller))
      refuse("not-member", `You were removed from conversation ${conv} and can no longer send to it.`, 403)
    if (out.content.length > (MAX_CONTENT * 4) / 3 + 4) refuse("invalid", "Message content is limited to 1 MiB.", 413)
    return this.tx(() => {
      // XMTP marks a conversation allowed for whoever sends in it.
      this.setConsentRow(caller, conv, "allowed", true)
      return toWireMessage(this.insertMessage(conv, caller, "application", out, null))
    })
  }

  private static readonly VISIBLE =
    `EXISTS (SELECT 1 FROM members v WHERE v.conv = m.conv AND v.inbox = :inbox AND m.seq >= v.from_seq AND (v.to_seq IS NULL OR m.seq <= v.to_seq))`

  messages(caller: string, conv: string, afterMs: number | undefined, limit: number | undefined): WireMessage[] {
    this.visibleConversation(caller, conv)
    const cap = Math.min(Math.max(limit ?? 1000, 1), 1000)
    const rows =
      afterMs === undefined
        ? (this.db
            .prepare(
              `SELECT * FROM (SELECT * FROM messages m WHERE m.conv = :conv AND ${DevnetStore.VISIBLE} ORDER BY m.seq DESC LIMIT :cap) ORDER BY seq`,
            )
            .all({ conv, inbox: caller, cap }) as unknown as MessageRow[])
        : (this.db
            .prepare(
              `SELECT * FROM messages m WHERE m.conv = :conv AND m.sent_ms > :after AND ${DevnetStore.VISIBLE} ORDER BY m.seq LIMIT :cap`,
            )
            .all({ conv, inbox: caller, after: afterMs, cap }) as unknown as MessageRow[])
    return rows.map(toWireMessage)
  }

  consent(caller: string, conv: string): string {
    this.visibleConversation(caller, conv)
    const row = this.db.prepare("SELECT state FROM consent WHERE inbox = ? AND conv = ?").get(caller, conv) as
      | { state: string }
      | undefined
    return row?.state ?? "unknown"
  }

  setConsent(caller: string, conv: string, state: string): void {
    this.visibleConversation(caller, conv)
    this.setConsentRow(caller, conv, state, true)
  }

  /** Messages for the caller's stream after a cursor (seq) or, on first call, after a time; denied conversations skipped. */
  poll(
    caller: string,
    after: { seq?: number | undefined; ms?: number | undefined },
    limit = 500,
  ): { messages: WireMessage[]; cursor: number } {
    const maxSeq = (this.db.prepare("SELECT COALESCE(MAX(seq), 0) AS s FROM messages").get() as { s: number }).s
    const where = after.seq !== undefined ? "m.seq > :after" : after.ms !== undefined ? "m.sent_ms > :after" : "0"
    const rows = this.db
      .prepare(`SELECT * FROM messages m WHERE ${where} AND ${DevnetStore.VISIBLE}
      AND COALESCE((SELECT state FROM consent c WHERE c.inbox = :inbox AND c.conv = m.conv), 'unknown') != 'denied'
      ORDER BY m.seq LIMIT :limit`)
      .all({ after: after.seq ?? after.ms ?? 0, inbox: caller, limit }) as unknown as MessageRow[]
    const cursor = rows.length === limit ? rows[rows.length - 1]!.seq : maxSeq
    return { messages: rows.map(toWireMessage), cursor }
  }
}
