export { parseMonitorLog, readMonitorLog } from './log.js';
export type { MonitorActionContext, RunMonitorOptions } from './monitor.js';
export { DEFAULT_DURATION_MS, DEFAULT_INTERVAL_MS, DEFAULT_TEXTFILE_INTERVAL_MS, runMonitor } from './monitor.js';
export type { PolicyOptions } from './policy.js';
export { DEFAULT_CONSECUTIVE_FAILURES, definePolicy } from './policy.js';
export type { HttpProbeOptions, ResourceProbeOptions, ResourceSample } from './probes.js';
export { httpProbe, resourceProbe } from './probes.js';
export type { PrometheusFigures } from './prometheus.js';
export { figuresOfSummary, renderPrometheusText, writePrometheusTextfile } from './prometheus.js';
export { redactUrl } from './redact.js';
export type { HtmlReportOptions } from './report.js';
export { REPORT_COLORS, renderHtmlReport } from './report.js';
export type { MonitorReportLog } from './report-input.js';
export { checkLogLine, parseLogForReport, readLogForReport } from './report-input.js';
export type {
  ActionOutcome,
  Breach,
  LatencyFigures,
  MonitorActionLine,
  MonitorBreachLine,
  MonitorCheck,
  MonitorCheckLine,
  MonitorLogLine,
  MonitorOutcome,
  MonitorPolicy,
  MonitorResult,
  MonitorStartLine,
  MonitorSummary,
  MonitorSummaryLine,
  PolicyEvaluator,
  PolicyRule,
  Probe,
  ProbeOutcome,
  ProbeSample,
  ProbeSummary,
  Verdict,
} from './types.js';
