// A monitor check for this package's unit tests (a fixture of its own data; not in the tarball: `files` is dist).
import type { MonitorCheck, ProbeOutcome } from '../src/types.js';

/** A check for policy tests: `check(3, 'fail', { api: { status: 503 } })`. */
export function check(
  seq: number,
  verdict: 'pass' | 'fail',
  probes: Record<string, Partial<ProbeOutcome>> = { api: {} },
  startMs = Date.UTC(2025, 10, 8, 12, 0, 0),
): MonitorCheck {
  return {
    seq,
    time: new Date(startMs + (seq - 1) * 30_000).toISOString(),
    verdict,
    durationMs: 5,
    skippedSlots: 0,
    probes: Object.entries(probes).map(([probe, fields]) => {
      const outcome: ProbeOutcome = { probe, verdict: fields.verdict ?? verdict, ...fields };
      if (outcome.verdict === 'fail' && outcome.error === undefined) {
        outcome.error = outcome.status === undefined ? 'ECONNREFUSED' : `status ${outcome.status}, expected 2xx`;
      }
      return outcome;
    }),
  };
}
