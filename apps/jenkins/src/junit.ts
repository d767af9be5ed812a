import type { ReleaseRecord, ReleaseStepRecord } from '@rel/release';
import { create } from 'xmlbuilder2';

/**
 * The release as a JUnit report in the Ant format Jenkins' `junit` step reads: one `testsuite` (the release), one
 * `testcase` per release step with its duration in seconds. A failed step is a `failure` carrying its error and
 * what it left; a skipped step, and a step not run (yet), is `skipped` with why. Built with an XML library: any
 * text (an error message with `<`, `&`, quotes or terminal control characters) stays well formed.
 */
export function junitReport(record: ReleaseRecord, options: { hostname?: string } = {}): string {
  const cases = record.steps.map((step) => ({ step, result: caseResult(record, step) }));
  const count = (kind: CaseResult['kind']) => cases.filter((c) => c.result.kind === kind).length;
  const seconds = cases.reduce((sum, c) => sum + (c.step.durationMs ?? 0), 0) / 1000;
  const totals = {
    tests: String(cases.length),
    failures: String(count('failure')),
    errors: String(count('error')),
    skipped: String(count('skipped')),
    time: seconds.toFixed(3),
  };
  // XML 1.0 cannot carry most control characters: they are dropped rather than making the file unreadable
  const doc = create({ version: '1.0', encoding: 'UTF-8', invalidCharReplacement: '' });
  const suites = doc.ele('testsuites', { name: `rel release ${record.id}`, ...totals });
  const suite = suites.ele('testsuite', {
    name: `${record.project} release ${record.id}`,
    ...totals,
    timestamp: record.startedAt.replace(/\.\d+Z$/, ''),
    hostname: options.hostname ?? record.runner.host,
  });
  const properties = suite.ele('properties');
  const property = (name: string, value: string | undefined | null) => {
    if (value) properties.ele('property', { name, value });
  };
  property('release', record.id);
  property('status', record.status);
  property('backend', record.versions.backend);
  property('frontend', record.versions.frontend);
  property('target', record.target);
  property('from', record.from);
  property('build', record.ci?.buildUrl);
  const classname = `rel.${record.project}.release`;
  for (const { step, result } of cases) {
    const testcase = suite.ele('testcase', {
      classname,
      name: `${step.id}: ${step.title}`,
      time: ((step.durationMs ?? 0) / 1000).toFixed(3),
    });
    if (result.kind === 'failure' || result.kind === 'error') {
      testcase.ele(result.kind, { message: result.message, type: result.type }).txt(result.text);
    } else if (result.kind === 'skipped') {
      testcase.ele('skipped', { message: result.message });
    }
    if (step.summary && result.kind === 'passed') testcase.ele('system-out').txt(step.summary);
  }
  suite.ele('system-out').txt(record.outcome ?? '');
  return doc.end({ prettyPrint: true });
}

type CaseResult =
  | { kind: 'passed' }
  | { kind: 'skipped'; message: string }
  | { kind: 'failure' | 'error'; message: string; type: string; text: string };

function caseResult(record: ReleaseRecord, step: ReleaseStepRecord): CaseResult {
  switch (step.status) {
    case 'done':
      return { kind: 'passed' };
    case 'skipped':
      return { kind: 'skipped', message: step.summary ?? 'skipped' };
    case 'failed': {
      const message = step.error?.message ?? 'failed';
      const text = [message, ...(step.left ? [`left: ${step.left}`] : [])].join('\n');
      return { kind: 'failure', message, type: step.error?.code ?? 'STEP_FAILED', text };
    }
    case 'running':
      // the record says running while nobody runs it: the runner died in this step
      return {
        kind: 'error',
        message: `interrupted while running (${record.outcome ?? 'its runner is gone'})`,
        type: 'INTERRUPTED',
        text: `rel release resume goes on from this step, rel release abort ends the release`,
      };
    default:
      return { kind: 'skipped', message: notRun(record, step) };
  }
}

/** Why a pending step has not run: the release ended before it, waits, or is held before it. */
function notRun(record: ReleaseRecord, step: ReleaseStepRecord): string {
  switch (record.status) {
    case 'failed':
    case 'rolled-back':
      return `not run: the release ${record.status === 'failed' ? 'failed' : 'was rolled back'} before it`;
    case 'aborted':
      return step.summary ?? 'not run: the release was aborted';
    case 'paused':
      return 'not run yet: the release awaits approval';
    case 'held':
      return 'not run yet: the release is held before it';
    case 'interrupted':
      return step.summary ? `not finished: ${step.summary}` : 'not run yet: the release was interrupted before it';
    default:
      return 'not run yet';
  }
}
