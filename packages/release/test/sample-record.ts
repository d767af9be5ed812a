// A release record for the journal's tests (uses the journal's internal newReleaseId; not in the tarball: `files` is dist).
import { thisProcess } from '../src/lock.js';
import { newReleaseId, RELEASE_STEPS, type ReleaseRecord } from '../src/release/journal.js';

/** A record of a release of v2 from blue to green, run by this process, every step pending. */
export function sampleRecord(overrides: Partial<ReleaseRecord> = {}): ReleaseRecord {
  const at = '2026-12-06T10:00:00.000Z';
  const runner = { user: 'ops', ...thisProcess(), command: 'release', at };
  return {
    schema: 1,
    id: newReleaseId(new Date(at)),
    project: 'shop',
    versions: { backend: 'v2', frontend: 'v2' },
    target: 'green',
    from: 'blue',
    options: { replicate: false, monitorMs: 600_000, monitorIntervalMs: 30_000, pauseBeforeSwitch: false },
    startedBy: { user: 'ops', host: runner.host },
    startedAt: at,
    updatedAt: at,
    status: 'running',
    runner,
    runs: [runner],
    steps: RELEASE_STEPS.map((id) => ({ id, title: id, status: 'pending', attempts: 0 })),
    ...overrides,
  };
}
