import { Clock, Effect } from "effect"
import { SqlClient } from "effect/sql"
import { Hono } from "hono"
import type { FC } from "hono/jsx"
import { type History, readHistory } from "../../observability/history.ts"
import { hasAdminSession } from "../auth.ts"
import type { Run } from "../http.ts"
import { Login, Page } from "./adminLayout.tsx"
import { LineChart, type Series } from "./charts.tsx"

// The pool over the last 24 h in /admin (GET /admin/history), as server-rendered SVG charts from what the pool
// records (observability/history.ts): instances by state and claims waiting (the tick's samples, one a minute), claim
// latency p50/p99 per hour (the events audit), and provider requests over the trailing 24 h against the daily budget
// (RAILWAY_CALLS_PER_DAY). Behind the admin session like the dashboard.

const WINDOW_HOURS = 24
const DAY_MS = 86_400_000
const STATES = ["idle", "starting", "claiming", "claimed", "crashed", "dead", "draining"] as const

export interface HistoryView {
  readonly since: Date
  readonly until: Date
  readonly states: ReadonlyArray<Series>
  readonly latency: ReadonlyArray<Series>
  readonly waiting: ReadonlyArray<Series>
  readonly calls: ReadonlyArray<Series>
  /** Provider requests a day the tick plans within (the latest sample's); null without samples. */
  readonly budget: number | null
  /** Requests in the 24 h before `until`. */
  readonly callsLastDay: number
  readonly sampleCount: number
}

/** The charts' series from `history` (read over 48 h: the trailing-24 h sum of the first point needs the day before). */
export const historyView = (history: History, until: Date): HistoryView => {
  const since = new Date(until.getTime() - WINDOW_HOURS * 3_600_000)
  const shown = history.samples.filter((s) => s.at > since)
  const trailingDay = (at: Date) =>
    history.samples
      .filter((s) => s.at.getTime() > at.getTime() - DAY_MS && s.at <= at)
      .reduce((n, s) => n + s.providerCalls, 0)
  // Latency per hour, drawn at the middle of its hour.
  const latency = history.latency.filter((b) => b.hour.getTime() + 3_600_000 > since.getTime())
  const mid = (d: Date) => new Date(Math.min(d.getTime() + 1_800_000, until.getTime()))
  return {
    since,
    until,
    states: STATES.map((s) => ({ name: s, points: shown.map((x) => [x.at, x[s]] as const) })),
    latency: [
      { name: "p50", points: latency.map((b) => [mid(b.hour), b.p50] as const) },
      { name: "p99", points: latency.map((b) => [mid(b.hour), b.p99] as const) },
    ],
    waiting: [{ name: "claims waiting", points: shown.map((x) => [x.at, x.claimsWaiting] as const) }],
    calls: [{ name: "requests in the trailing 24 h", points: shown.map((x) => [x.at, trailingDay(x.at)] as const) }],
    budget: shown.at(-1)?.callsPerDay ?? null,
    callsLastDay: trailingDay(until),
    sampleCount: shown.length,
  }
}

const HistoryPage: FC<{ v: HistoryView }> = ({ v }) => {
  const empty = "no samples yet: the replica running the tick writes one a minute"
  return (
    <Page title="Pool history — pool admin">
      <p>
        <a href="/admin">← all instances</a>
      </p>
      <h1>Pool history, last 24 h</h1>
      <p class="muted">
        {v.sampleCount} sample(s) from {v.since.toISOString().slice(0, 16).replace("T", " ")} to{" "}
        {v.until.toISOString().slice(0, 16).replace("T", " ")} UTC. Claims waiting are those of the replica that runs
        the tick.
      </p>
      <div class="charts">
        <LineChart
          id="chart-states"
          title="Instances by state"
          since={v.since}
          until={v.until}
          series={v.states}
          empty={empty}
        />
        <LineChart
          id="chart-latency"
          title="Claim latency per hour (p50, p99)"
          since={v.since}
          until={v.until}
          series={v.latency}
          unit=" s"
          empty="no claims in the last 24 h"
        />
        <LineChart
          id="chart-waiting"
          title="Claims waiting"
          since={v.since}
          until={v.until}
          series={v.waiting}
          empty={empty}
        />
        <LineChart
          id="chart-calls"
          title={`Provider requests per day: ${v.callsLastDay} in the last 24 h${v.budget ? ` of ${v.budget} budgeted` : ""}`}
          since={v.since}
          until={v.until}
          series={v.calls}
          {...(v.budget ? { reference: { value: v.budget, label: "daily budget" } } : {})}
          empty={empty}
        />
      </div>
    </Page>
  )
}

export interface AdminHistoryOptions {
  readonly run: Run
  readonly sessionSecret: string
}

export const adminHistoryRoutes = (o: AdminHistoryOptions) => {
  const app = new Hono()
  app.get("/admin/history", async (c) => {
    if (!(await hasAdminSession(o.run, c, o.sessionSecret))) return c.html(<Login />, 401)
    const exit = await o.run(
      Effect.gen(function* () {
        const until = new Date(yield* Clock.currentTimeMillis)
        const history = yield* readHistory(yield* SqlClient.SqlClient, until, 2 * WINDOW_HOURS)
        return historyView(history, until)
      }),
      c.req.raw.signal,
    )
    if (exit._tag === "Failure")
      return c.html(
        <Page title="Pool admin">
          <p class="err">The pool history could not be read; reload in a moment.</p>
        </Page>,
        503,
      )
    return c.html(<HistoryPage v={exit.value} />)
  })
  return app
}
