// @rel/jenkins: rel's Jenkins adapter. The pipelines (vars/relRelease.groovy, pipelines/*.groovy) run one
// `rel-jenkins` command per stage; `main` is that command in-process. The report writers turn a release record
// into what a Jenkins build shows: a JUnit report (the `junit` step) and a Markdown summary (the description).

export type { MainIO } from './cli.js';
export { main } from './cli.js';
export { junitReport } from './junit.js';
export type { BuildLog, BuildLogOptions } from './log.js';
export { createBuildLog } from './log.js';
export type { ReportSecrets } from './reports.js';
export { REPORT_FILES, writeBuildReports, writeErrorSummary } from './reports.js';
export type { BuildParameters } from './request.js';
export { releaseRequestOf } from './request.js';
export { summaryMarkdown } from './summary.js';
