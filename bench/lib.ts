// Shared by every bench script: print figures and leave a JSON result for `npm run bench` (bench/run-all.ts).
import { mkdirSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

export interface Measure {
  readonly measure: string
  readonly value: number
  readonly unit: string
  /** Human-readable target, e.g. "≥ 1000" or "≤ 20 ms"; omitted when the figure is informational. */
  readonly target?: string
  readonly pass?: boolean
}

export const benchDir = dirname(fileURLToPath(import.meta.url))
export const resultsDir = join(benchDir, ".tmp")

/** Prints one line per measure and writes bench/.tmp/<name>.json. */
export const reportBench = (
  name: string,
  measures: ReadonlyArray<Measure>,
  notes: ReadonlyArray<string> = [],
): void => {
  for (const m of measures) {
    const verdict = m.pass === undefined ? "" : m.pass ? "  PASS" : "  FAIL"
    const target = m.target ? ` (target ${m.target})` : ""
    console.log(`${m.measure}: ${round(m.value)} ${m.unit}${target}${verdict}`)
  }
  for (const n of notes) console.log(`note: ${n}`)
  mkdirSync(resultsDir, { recursive: true })
  writeFileSync(
    join(resultsDir, `${name}.json`),
    JSON.stringify({ name, measures, notes, at: new Date().toISOString() }, null, 2),
  )
}

export const round = (v: number): number => (Math.abs(v) >= 100 ? Math.round(v) : Math.round(v * 100) / 100)

/** Percentile of a sample (nearest-rank). */
export const percentile = (sorted: ReadonlyArray<number>, p: number): number => {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank]!
}

/** Fewest samples a percentile is printed from: below it a "p95" is only the largest of a handful. */
export const MIN_PERCENTILE_SAMPLES = 20

export interface PercentileSpec {
  readonly p: number
  readonly measure: string
  readonly target?: string
  readonly pass?: (value: number) => boolean
}

/**
 * Percentile measures of a sample, or none when it has fewer than MIN_PERCENTILE_SAMPLES values: then a note says
 * which figures were left out and why (a figure with a target counts as failed, since it could not be checked).
 */
export const percentileMeasures = (
  samples: ReadonlyArray<number>,
  unit: string,
  specs: ReadonlyArray<PercentileSpec>,
): { measures: Array<Measure>; notes: Array<string> } => {
  const sorted = [...samples].sort((a, b) => a - b)
  if (sorted.length >= MIN_PERCENTILE_SAMPLES) {
    return {
      measures: specs.map((s) => {
        const value = percentile(sorted, s.p)
        return {
          measure: s.measure,
          value,
          unit,
          ...(s.target ? { target: s.target } : {}),
          ...(s.pass ? { pass: s.pass(value) } : {}),
        }
      }),
      notes: [],
    }
  }
  const gated = specs.filter((s) => s.pass)
  return {
    measures: gated.map((s) => ({
      measure: `${s.measure}: too few samples (${sorted.length} < ${MIN_PERCENTILE_SAMPLES})`,
      value: sorted.length,
      unit: "samples",
      target: `≥ ${MIN_PERCENTILE_SAMPLES} samples, then ${s.target}`,
      pass: false,
    })),
    notes: [
      `not printed (${sorted.length} samples, percentiles need ≥ ${MIN_PERCENTILE_SAMPLES}): ${specs.map((s) => s.measure).join("; ")}`,
    ],
  }
}
