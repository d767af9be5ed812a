import { RelError } from './errors.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** The longest duration rel accepts: 24 days, below what a Node timer can wait (2^31-1 ms, about 24.8 days). */
export const MAX_DURATION_MS = 24 * 24 * 3600 * 1000;
const MAX_DURATION_TEXT = '24 days (576h)';

/**
 * Parses `500ms`, `30s`, `10m`, `1h`, `1m30s` or a bare number of seconds (`600`) into milliseconds.
 * Zero and negative durations are refused unless `allowZero` is set; longer than MAX_DURATION_MS too.
 */

export function parseDuration(
  value: string | number,
  what = 'duration',
  options: { allowZero?: boolean } = {},
): number {
  const text = String(value).trim();
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(text)) {
    ms = Number(text) * 1000;
  } else if (/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(text)) {
    ms = 0;
    for (const match of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) ms += Number(match[1]) * UNIT_MS[match[2]!]!;
  } else {
    throw new RelError(
      'BAD_INPUT',
      `invalid ${what} ${JSON.stringify(text)}: expected seconds (600) or a number with a unit ms, s, m or h (30s, 10m)`,
    );
  }
  if (ms <= 0 && !options.allowZero) {
    throw new RelError('BAD_INPUT', `invalid ${what} ${JSON.stringify(text)}: must be greater than zero`);
  }
  if (ms > MAX_DURATION_MS) {
    // a longer wait overflows Node's timers, which then fire at once
    throw new RelError('BAD_INPUT', `invalid ${what} ${JSON.stringify(text)}: at most ${MAX_DURATION_TEXT}`);
  }
  return Math.round(ms);
}

/** `1234` -> `1.2s`, `95000` -> `1m35s`, `250` -> `250ms`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return seconds ? `${minutes}m${seconds}s` : `${minutes}m`;
}
