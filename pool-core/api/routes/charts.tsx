import type { FC } from "hono/jsx"
import { SERIES_COLOURS } from "./adminLayout.tsx"

// Line charts as server-rendered SVG (no script; the CSP allows none): a time axis over a fixed window, a y axis from 0,
// one polyline per series, an optional dashed reference line (a budget), and a legend. Each series' latest and
// highest values are in the SVG's <desc> (for screen readers, and what tests read).

export interface Series {
  readonly name: string
  readonly points: ReadonlyArray<readonly [Date, number]>
}

export interface LineChartProps {
  readonly id: string
  readonly title: string
  readonly since: Date
  readonly until: Date
  readonly series: ReadonlyArray<Series>
  /** Appended to values in the summary and the y labels, e.g. " s". */
  readonly unit?: string
  readonly reference?: { readonly value: number; readonly label: string }
  /** Shown in the plot when no series has a point. */
  readonly empty: string
}

const W = 640
const H = 240
const LEFT = 52
const RIGHT = 14
const TOP = 14
const BOTTOM = 30
const HOUR = 3_600_000

/** 1, 2, 5 × 10^n at or above x (y axis tops). */
export const niceCeil = (x: number) => {
  if (x <= 0) return 1
  const p = 10 ** Math.floor(Math.log10(x))
  return ([1, 2, 5, 10].find((m) => m * p >= x) ?? 10) * p
}

const fmt = (v: number) => (Number.isInteger(v) ? String(v) : v < 10 ? v.toFixed(2) : v.toFixed(1))

export const LineChart: FC<LineChartProps> = (p) => {
  const unit = p.unit ?? ""
  const t0 = p.since.getTime()
  const span = Math.max(1, p.until.getTime() - t0)
  const values = p.series.flatMap((s) => s.points.map(([, v]) => v))
  const top = niceCeil(Math.max(0, ...values, p.reference?.value ?? 0))
  const x = (d: Date) => LEFT + ((d.getTime() - t0) / span) * (W - LEFT - RIGHT)
  const y = (v: number) => TOP + (1 - v / top) * (H - TOP - BOTTOM)
  const hours: Array<Date> = []
  for (let t = Math.ceil(t0 / (6 * HOUR)) * 6 * HOUR; t <= t0 + span; t += 6 * HOUR) hours.push(new Date(t))
  const summary = p.series
    .map((s) =>
      s.points.length === 0
        ? `${s.name}: no data`
        : `${s.name}: latest ${fmt(s.points.at(-1)![1])}${unit}, highest ${fmt(Math.max(...s.points.map(([, v]) => v)))}${unit}`,
    )
    .join("; ")
  return (
    <figure class="chart" id={p.id}>
      <figcaption>{p.title}</figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-describedby={`${p.id}-desc`} xmlns="http://www.w3.org/2000/svg">
        <title>{p.title}</title>
        <desc id={`${p.id}-desc`}>
          {p.title}. {values.length === 0 ? p.empty : summary}
          {p.reference ? `. ${p.reference.label}: ${fmt(p.reference.value)}${unit}` : ""}
        </desc>
        {[0, top / 2, top].map((v) => (
          <g>
            <line x1={LEFT} x2={W - RIGHT} y1={y(v)} y2={y(v)} stroke="#ddd" />
            <text x={LEFT - 6} y={y(v) + 4} text-anchor="end" font-size="11" fill="#555">
              {fmt(v)}
              {unit}
            </text>
          </g>
        ))}
        {hours.map((h) => (
          <text x={x(h)} y={H - 10} text-anchor="middle" font-size="11" fill="#555">
            {h.toISOString().slice(11, 16)}
          </text>
        ))}
        <text x={LEFT - 6} y={H - 10} text-anchor="end" font-size="11" fill="#555">
          UTC
        </text>
        {p.reference ? (
          <g class="reference">
            <line
              x1={LEFT}
              x2={W - RIGHT}
              y1={y(p.reference.value)}
              y2={y(p.reference.value)}
              stroke="#dc2626"
              stroke-dasharray="6 4"
            />
            <text x={W - RIGHT} y={y(p.reference.value) - 4} text-anchor="end" font-size="11" fill="#dc2626">
              {p.reference.label}
            </text>
          </g>
        ) : null}
        {values.length === 0 ? (
          <text x={(LEFT + W - RIGHT) / 2} y={(TOP + H - BOTTOM) / 2} text-anchor="middle" font-size="13" fill="#666">
            {p.empty}
          </text>
        ) : null}
        {p.series.map((s, n) =>
          s.points.length === 0 ? null : (
            <g data-series={s.name}>
              <polyline
                fill="none"
                stroke={SERIES_COLOURS[n % SERIES_COLOURS.length]}
                stroke-width="2"
                points={s.points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" ")}
              />
              {s.points.length <= 48
                ? s.points.map(([t, v]) => (
                    <circle
                      cx={x(t).toFixed(1)}
                      cy={y(v).toFixed(1)}
                      r="2.5"
                      fill={SERIES_COLOURS[n % SERIES_COLOURS.length]}
                    >
                      <title>
                        {s.name} {t.toISOString().slice(11, 16)} UTC: {fmt(v)}
                        {unit}
                      </title>
                    </circle>
                  ))
                : null}
            </g>
          ),
        )}
        <line x1={LEFT} x2={LEFT} y1={TOP} y2={H - BOTTOM} stroke="#999" />
        <line x1={LEFT} x2={W - RIGHT} y1={H - BOTTOM} y2={H - BOTTOM} stroke="#999" />
      </svg>
      <div class="legend">
        {p.series.map((s, n) => (
          <span>
            <i class={`c${n % SERIES_COLOURS.length}`} />
            {s.name}
          </span>
        ))}
      </div>
    </figure>
  )
}
