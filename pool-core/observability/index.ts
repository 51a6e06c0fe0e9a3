// Operating the pool (docs/operations.md): metrics, readiness checks, logging, OTLP export, pool history.
export * from "./metrics.ts"
export {
  CheckFailed,
  type CheckResult,
  checkFailed,
  Readiness,
  ReadinessLive,
  type ReadinessReport,
  registerCheck,
} from "./Readiness.ts"
export { LoggingLive, logSettings, type LogFormat } from "./Logging.ts"
export { TelemetryLive, telemetrySettings } from "./Telemetry.ts"
export { type History, type LatencyBucket, readHistory, type Sample } from "./history.ts"
