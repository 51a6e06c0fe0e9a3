import { type Context as HonoContext, Hono } from "hono"
import type { FC } from "hono/jsx"
import type { InstanceEvent } from "../../domain/instance.ts"
import type { HeldResource } from "../../providers/AgentResources.ts"
import { spendText, usd } from "../../providers/resources/spend.ts"
import { hasAdminSession } from "../auth.ts"
import type { Run } from "../http.ts"
import { Login, Page } from "./adminLayout.tsx"
import { type InstanceDetail, loadInstanceDetail } from "./instanceDetail.ts"

// One instance in /admin (GET /admin/instances/:id): owner, template, resources (email, phone, wallet, OpenRouter spend
// against the cap), the last error, the events timeline, the tail of its runtime log, and the dashboard's actions.
// Server-rendered, forms only; behind the admin session like the dashboard (the log tail is never shown without it).
// The action forms post to /admin/actions/* with back=instance, which answers with this page again.

const ID = /^[A-Za-z0-9-]{1,64}$/

export const utc = (d: Date) => `${d.toISOString().slice(0, 19).replace("T", " ")} UTC`

const heldOf = (resources: ReadonlyArray<HeldResource>, ...providers: ReadonlyArray<HeldResource["provider"]>) =>
  resources.find((r) => providers.includes(r.provider))?.externalId ?? null

const Events: FC<{ events: ReadonlyArray<InstanceEvent> }> = ({ events }) =>
  events.length === 0 ? (
    <p class="muted">No events recorded.</p>
  ) : (
    <table id="events">
      <thead>
        <tr>
          <th>when</th>
          <th>event</th>
          <th>status</th>
          <th>detail</th>
        </tr>
      </thead>
      <tbody>
        {events.map((e) => (
          <tr>
            <td>{utc(e.createdAt)}</td>
            <td>{e.kind}</td>
            <td>
              {e.fromStatus ?? "—"} → {e.toStatus ?? "gone"}
            </td>
            <td>{e.detail ?? ""}</td>
          </tr>
        ))}
      </tbody>
    </table>
  )

const Actions: FC<{ d: InstanceDetail }> = ({ d }) => {
  const i = d.instance!
  return (
    <p>
      {i.status === "crashed" || i.status === "dead" ? (
        <form class="inline" method="post" action="/admin/actions/dismiss">
          <input type="hidden" name="id" value={i.id} />
          <input type="hidden" name="back" value="instance" />
          <button type="submit">Dismiss</button>
        </form>
      ) : null}{" "}
      {d.topUpMax !== null && d.spend !== null ? (
        <form class="inline" method="post" action="/admin/actions/topup">
          <input type="hidden" name="id" value={i.id} />
          <input type="hidden" name="back" value="instance" />
          <input
            type="number"
            name="amountUsd"
            min="0.01"
            max={String(d.topUpMax)}
            step="0.01"
            value="5"
            aria-label="USD to add to the spending cap"
          />{" "}
          <button type="submit">Top up</button>
        </form>
      ) : null}{" "}
      <form class="inline" method="post" action="/admin/actions/kill">
        <input type="hidden" name="id" value={i.id} />
        <input type="hidden" name="back" value="instance" />
        <button type="submit">Kill</button>
      </form>
    </p>
  )
}

const spendAgainstCap = (d: InstanceDetail) => {
  const s = d.spend
  if (s === null || s === "unavailable") return spendText(s)
  const cap =
    s.limitUsd === null ? "no cap" : `cap ${usd(s.limitUsd)}${s.limitReset ? ` (resets ${s.limitReset})` : ""}`
  const share = s.limitUsd ? ` — ${Math.round((100 * s.usedUsd) / s.limitUsd)}%` : ""
  return `${usd(s.usedUsd)} spent of ${cap}${share}`
}

const InstancePage: FC<{ id: string; d: InstanceDetail; notice?: string | undefined }> = ({ id, d, notice }) => {
  const i = d.instance
  const title = i ? `${i.agentName ?? i.id.slice(0, 8)} — pool admin` : `Instance ${id.slice(0, 8)} — pool admin`
  const held = typeof d.resources === "string" ? [] : d.resources
  return (
    <Page title={title}>
      <p>
        <a href="/admin">← all instances</a>
      </p>
      {notice ? <p id="notice">{notice}</p> : null}
      {i === null ? (
        <h1>Instance {id} is gone</h1>
      ) : (
        <>
          <h1>
            {i.agentName ?? "(unnamed)"} <small class="muted">{i.status}</small>
          </h1>
          <dl class="facts" id="facts">
            <dt>id</dt>
            <dd>
              <code>{i.id}</code>
            </dd>
            <dt>status</dt>
            <dd>{i.status}</dd>
            <dt>owner</dt>
            <dd>{i.claimedBy ?? "— (not claimed)"}</dd>
            <dt>template</dt>
            <dd>{i.templateSlug ?? "—"}</dd>
            <dt>compute</dt>
            <dd>
              {i.provider} {i.providerRef ? <code>{i.providerRef}</code> : null}
            </dd>
            <dt>created</dt>
            <dd>{utc(i.createdAt)}</dd>
            <dt>claimed</dt>
            <dd>{i.claimedAt ? utc(i.claimedAt) : "—"}</dd>
            <dt>last healthy</dt>
            <dd>{i.lastHealthyAt ? utc(i.lastHealthyAt) : "—"}</dd>
            <dt>invite</dt>
            <dd>{i.inviteUrl ? <code>{i.inviteUrl}</code> : "—"}</dd>
          </dl>
          <h2>Resources</h2>
          {typeof d.resources === "string" ? <p class="err">Resources {d.resources}</p> : null}
          <dl class="facts" id="resources">
            <dt>email</dt>
            <dd>{heldOf(held, "agentmail") ?? "—"}</dd>
            <dt>phone</dt>
            <dd>{heldOf(held, "telnyx") ?? "—"}</dd>
            <dt>wallet</dt>
            <dd>{heldOf(held, "wallet", "bankr") ? <code>{heldOf(held, "wallet", "bankr")}</code> : "—"}</dd>
            <dt>OpenRouter</dt>
            <dd>{spendAgainstCap(d)}</dd>
          </dl>
          <h2>Last error</h2>
          <p id="last-error">{i.lastError ?? <span class="muted">none</span>}</p>
          {d.resourceErrors.length > 0 ? (
            <ul id="resource-errors">
              {d.resourceErrors.map((e) => (
                <li>
                  {utc(e.createdAt)} {e.provider} {e.operation}: {e.message}
                </li>
              ))}
            </ul>
          ) : null}
          <h2>Actions</h2>
          <Actions d={d} />
        </>
      )}
      <h2>Events</h2>
      <Events events={d.events} />
      {i === null ? null : (
        <>
          <h2>Runtime log (tail)</h2>
          {d.log.available ? (
            <pre class="log" id="log">
              {d.log.text || "(empty)"}
            </pre>
          ) : (
            <p id="log-unavailable">Not available: {d.log.reason}.</p>
          )}
        </>
      )}
    </Page>
  )
}

export interface AdminInstanceOptions {
  readonly run: Run
  readonly sessionSecret: string
}

export const adminInstanceRoutes = (o: AdminInstanceOptions) => {
  const app = new Hono()
  /** The page of instance `id`, with an optional notice (an action's outcome); 404 when it is gone. */
  const page = async (c: HonoContext, id: string, notice?: string, status = 200) => {
    const exit = await o.run(loadInstanceDetail(id), c.req.raw.signal)
    if (exit._tag === "Failure")
      return c.html(
        <Page title="Pool admin">
          <p class="err">The pool is not answering; reload in a moment.</p>
        </Page>,
        503,
      )
    const d = exit.value
    // A gone instance is a 404, except as the answer to the action that removed it.
    const code = d.instance === null && notice === undefined ? 404 : status
    return c.html(<InstancePage id={id} d={d} notice={notice} />, code as 200)
  }
  app.get("/admin/instances/:id", async (c) => {
    if (!(await hasAdminSession(o.run, c, o.sessionSecret))) return c.html(<Login />, 401)
    const id = c.req.param("id")
    if (!ID.test(id)) return c.text("Invalid id: ids are letters, digits and dashes.", 400)
    return page(c, id)
  })
  return { app, page }
}
