// The page's text helpers: every value from the log is escaped (`esc`, `num`) before it reaches the page.
import type { LatencyFigures } from './types.js';

/** `p50 / p95 / p99 / max ms`, or `—` when there are no figures. */
export function latencyText(figures: LatencyFigures | null): string {
  if (!figures) return '—';
  return `${fmtNumber(figures.p50)} / ${fmtNumber(figures.p95)} / ${fmtNumber(figures.p99)} / ${fmtNumber(figures.max)} ms`;
}

/** A number for axis labels and tables: whole from 100 up, else one decimal. */
export function fmtNumber(value: number): string {
  if (value >= 100) return String(Math.round(value));
  return String(Math.round(value * 10) / 10);
}

/** `text`, cut at `max` characters with a `…` line after. */
export function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}\n…` : text;
}

/** A coordinate for SVG: always a number (Math.round of anything is a number or NaN), so nothing to escape. */
export function f(value: number): string {
  return String(Math.round(value * 10) / 10);
}

/** A number from the log, for the page: escaped like text, in case a crafted line got a string past the checks. */
export function num(value: number): string {
  return esc(String(value));
}

/** Text for HTML content and attribute values: `& < > " '` escaped. */
export function esc(text: string): string {
  return String(text)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}
