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
export const reportBench = (name: string, measures: ReadonlyArray<Measure>, notes: ReadonlyArray<string> = []): void => {
  for (const m of measures) {
    const verdict = m.pass === undefined ? "" : m.pass ? "  PASS" : "  FAIL"
    const target = m.target ? ` (target ${m.target})` : ""
    console.log(`${m.measure}: ${round(m.value)} ${m.unit}${target}${verdict}`)
  }
  for (const n of notes) console.log(`note: ${n}`)
  mkdirSync(resultsDir, { recursive: true })
  writeFileSync(join(resultsDir, `${name}.json`), JSON.stringify({ name, measures, notes, at: new Date().toISOString() }, null, 2))
}

export const round = (v: number): number => (Math.abs(v) >= 100 ? Math.round(v) : Math.round(v * 100) / 100)

/** Percentile of a sample (nearest-rank). */
export const percentile = (sorted: ReadonlyArray<number>, p: number): number => {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank]!
}
