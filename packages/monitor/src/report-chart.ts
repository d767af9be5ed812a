// The report's chart: one inline SVG of latency and memory over time, failed checks and the breach/action line.
import { clock, describeFailure } from './policy.js';
import { esc, f, fmtNumber } from './report-format.js';
import type {
  MonitorActionLine,
  MonitorBreachLine,
  MonitorCheckLine,
  MonitorStartLine,
  MonitorSummary,
} from './types.js';

/** Colours of the chart; the first latency colour is the first HTTP probe's. */
export const REPORT_COLORS = {
  latency: ['#1f6feb', '#8250df', '#0a3069', '#bf8700'],
  memory: ['#bc4c00', '#6e7781', '#953800'],
  failure: '#d1242f',
  action: '#6639ba',
} as const;

const WIDTH = 1100;
const LEFT = 80;
const RIGHT = 24;
const PLOT_WIDTH = WIDTH - LEFT - RIGHT;
const LATENCY_TOP = 64;
const LATENCY_HEIGHT = 260;
const MEMORY_TOP = LATENCY_TOP + LATENCY_HEIGHT + 60;
const MEMORY_HEIGHT = 150;
const HEIGHT = MEMORY_TOP + MEMORY_HEIGHT + 44;

interface Point {
  t: number;
  v: number;
}

/** The SVG chart: a latency panel (failed checks as red dots and bands) over a memory panel, on one time axis. */
export function renderChart(
  start: MonitorStartLine | undefined,
  checks: readonly MonitorCheckLine[],
  breach: MonitorBreachLine | undefined,
  action: MonitorActionLine | undefined,
  summary: MonitorSummary,
  actionLabel: string,
): string {
  // Loops, not Math.min(...times): a long log must not overflow the call stack.
  let t0 = Date.parse(start?.time ?? summary.startedAt);
  let t1 = Math.max(Date.parse(summary.endedAt), action ? Date.parse(action.time) : 0);
  for (const check of checks) {
    const t = Date.parse(check.time);
    if (t < t0) t0 = t;
    if (t > t1) t1 = t;
  }
  if (!(t1 > t0)) t1 = t0 + 1000;
  const x = (t: number) => LEFT + ((t - t0) / (t1 - t0)) * PLOT_WIDTH;

  const latency = new Map<string, (Point | null)[]>();
  const memory = new Map<string, (Point | null)[]>();
  for (const check of checks) {
    const t = Date.parse(check.time);
    for (const probe of check.probes) {
      if (probe.latencyMs !== undefined || (start?.probes.find((p) => p.name === probe.probe)?.kind ?? '') === 'http') {
        const list = latency.get(probe.probe) ?? [];
        list.push(probe.latencyMs === undefined ? null : { t, v: probe.latencyMs });
        latency.set(probe.probe, list);
      }
      if (probe.memoryBytes !== undefined || memory.has(probe.probe)) {
        const list = memory.get(probe.probe) ?? [];
        list.push(probe.memoryBytes === undefined ? null : { t, v: probe.memoryBytes / (1024 * 1024) });
        memory.set(probe.probe, list);
      }
    }
  }

  const parts: string[] = [];
  parts.push(
    `<svg width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="system-ui, sans-serif" font-size="12" role="img" aria-label="latency and memory over time">`,
    `<rect x="0" y="0" width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
  );

  // Latency panel.
  const latencyMax = niceCeiling(maxOf(latency));
  const yLatency = (v: number) => LATENCY_TOP + LATENCY_HEIGHT - (v / latencyMax) * LATENCY_HEIGHT;
  parts.push(panelFrame('response time (ms)', LATENCY_TOP, LATENCY_HEIGHT, latencyMax, (v) => fmtNumber(v)));
  // Failed checks: a light band across the panel and a red dot on the row above the plot.
  const bandWidth = Math.max(4, Math.min(40, ((start?.intervalMs ?? 1000) / (t1 - t0)) * PLOT_WIDTH * 0.8));
  for (const check of checks) {
    if (check.verdict !== 'fail') continue;
    const cx = x(Date.parse(check.time));
    const from = Math.max(LEFT, cx - bandWidth / 2);
    const to = Math.min(LEFT + PLOT_WIDTH, cx + bandWidth / 2);
    parts.push(
      `<rect x="${f(from)}" y="${LATENCY_TOP}" width="${f(Math.max(1, to - from))}" height="${LATENCY_HEIGHT}" fill="${REPORT_COLORS.failure}" fill-opacity="0.12"/>`,
      `<circle cx="${f(cx)}" cy="${LATENCY_TOP - 10}" r="5" fill="${REPORT_COLORS.failure}"><title>${esc(failureTitle(check))}</title></circle>`,
    );
  }
  parts.push(...series(latency, REPORT_COLORS.latency, x, yLatency));
  parts.push(legend(latency, REPORT_COLORS.latency, LATENCY_TOP - 32, ' ms'));
  parts.push(
    `<text x="${WIDTH - RIGHT}" y="${LATENCY_TOP - 24}" text-anchor="end" fill="${REPORT_COLORS.failure}">● failed check</text>`,
  );
  if (latency.size === 0) parts.push(emptyNote(LATENCY_TOP, LATENCY_HEIGHT, 'no response times'));

  // Memory panel.
  const memoryMax = niceCeiling(maxOf(memory));
  const yMemory = (v: number) => MEMORY_TOP + MEMORY_HEIGHT - (v / memoryMax) * MEMORY_HEIGHT;
  parts.push(panelFrame('memory (MiB)', MEMORY_TOP, MEMORY_HEIGHT, memoryMax, (v) => fmtNumber(v)));
  parts.push(...series(memory, REPORT_COLORS.memory, x, yMemory));
  parts.push(legend(memory, REPORT_COLORS.memory, MEMORY_TOP - 12, ' MiB'));
  if (memory.size === 0) parts.push(emptyNote(MEMORY_TOP, MEMORY_HEIGHT, 'no memory samples'));

  // Time axis under each panel.
  parts.push(timeAxis(t0, t1, x, LATENCY_TOP + LATENCY_HEIGHT), timeAxis(t0, t1, x, MEMORY_TOP + MEMORY_HEIGHT));

  // The breach and the action: one vertical line across both panels, labelled.
  if (breach) {
    const at = action ? Date.parse(action.startedAt) : Date.parse(breach.time);
    const lx = f(x(at));
    const label = action
      ? `${actionLabel} ${action.ok ? '' : 'FAILED '}at ${clock(action.startedAt)} (${breach.rule})`
      : `breach at ${clock(breach.time)} (${breach.rule})`;
    const anchor = x(at) > LEFT + PLOT_WIDTH * 0.6 ? 'end' : 'start';
    const dx = anchor === 'end' ? -6 : 6;
    parts.push(
      `<line x1="${lx}" y1="${LATENCY_TOP - 18}" x2="${lx}" y2="${MEMORY_TOP + MEMORY_HEIGHT}" stroke="${REPORT_COLORS.action}" stroke-width="2" stroke-dasharray="6 4"/>`,
      `<text x="${f(x(at) + dx)}" y="${LATENCY_TOP + 14}" text-anchor="${anchor}" fill="${REPORT_COLORS.action}" font-weight="600">${esc(label)}</text>`,
    );
  }
  parts.push('</svg>');
  return parts.join('\n');
}

function maxOf(seriesMap: Map<string, (Point | null)[]>): number {
  let max = 0;
  for (const list of seriesMap.values()) for (const p of list) if (p && p.v > max) max = p.v;
  return max;
}

/** A round number >= value: 1, 2 or 5 times a power of ten. */
function niceCeiling(value: number): number {
  if (!(value > 0)) return 1;
  const padded = value * 1.08;
  const power = 10 ** Math.floor(Math.log10(padded));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= padded) return step * power;
  return 10 * power;
}

function panelFrame(label: string, top: number, height: number, max: number, fmt: (v: number) => string): string {
  const out = [
    `<rect x="${LEFT}" y="${top}" width="${PLOT_WIDTH}" height="${height}" fill="none" stroke="#d1d9e0"/>`,
    `<text x="${LEFT - 60}" y="${top - 12}" fill="#59636e">${esc(label)}</text>`,
  ];
  for (let i = 0; i <= 4; i += 1) {
    const value = (max * i) / 4;
    const y = f(top + height - (height * i) / 4);
    if (i > 0 && i < 4) {
      out.push(`<line x1="${LEFT}" y1="${y}" x2="${LEFT + PLOT_WIDTH}" y2="${y}" stroke="#eef1f4"/>`);
    }
    out.push(`<text x="${LEFT - 6}" y="${y}" dy="4" text-anchor="end" fill="#59636e">${esc(fmt(value))}</text>`);
  }
  return out.join('\n');
}

function series(
  seriesMap: Map<string, (Point | null)[]>,
  colors: readonly string[],
  x: (t: number) => number,
  y: (v: number) => number,
): string[] {
  const out: string[] = [];
  let index = 0;
  for (const points of seriesMap.values()) {
    const color = colors[index % colors.length]!;
    index += 1;
    // A gap (a failed request without a response) breaks the line.
    const runs: Point[][] = [[]];
    for (const p of points) {
      if (p) runs.at(-1)!.push(p);
      else if (runs.at(-1)!.length > 0) runs.push([]);
    }
    for (const run of runs) {
      if (run.length > 1) {
        const d = run.map((p) => `${f(x(p.t))},${f(y(p.v))}`).join(' ');
        out.push(
          `<polyline points="${d}" fill="none" stroke="${color}" stroke-width="2.5" stroke-linejoin="round" stroke-linecap="round"/>`,
        );
      }
    }
    const shown = points.filter((p): p is Point => p !== null);
    if (shown.length <= 400) {
      for (const p of shown) out.push(`<circle cx="${f(x(p.t))}" cy="${f(y(p.v))}" r="3" fill="${color}"/>`);
    }
  }
  return out;
}

function legend(seriesMap: Map<string, (Point | null)[]>, colors: readonly string[], y: number, unit: string): string {
  const out: string[] = [];
  let xPos = LEFT + 110;
  let index = 0;
  for (const name of seriesMap.keys()) {
    const color = colors[index % colors.length]!;
    index += 1;
    out.push(
      `<rect x="${xPos}" y="${y - 9}" width="14" height="4" fill="${color}"/>`,
      `<text x="${xPos + 20}" y="${y - 4}" fill="#1f2328">${esc(name)}${esc(unit)}</text>`,
    );
    xPos += 40 + name.length * 7 + unit.length * 7;
  }
  return out.join('\n');
}

function emptyNote(top: number, height: number, text: string): string {
  return `<text x="${LEFT + PLOT_WIDTH / 2}" y="${top + height / 2}" text-anchor="middle" fill="#818b98">${esc(text)}</text>`;
}

function timeAxis(t0: number, t1: number, x: (t: number) => number, y: number): string {
  const span = (t1 - t0) / 1000;
  const steps = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21_600, 43_200, 86_400];
  // At most about 8 ticks: past the list, whole days (a log whose times are years apart gets few ticks, not millions).
  const step = (steps.find((s) => span / s <= 8) ?? Math.ceil(span / 8 / 86_400) * 86_400) * 1000;
  const out: string[] = [];
  const showMs = step < 1000;
  for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
    const iso = new Date(t).toISOString();
    const label = showMs ? iso.slice(11, 23) : iso.slice(11, 19);
    out.push(
      `<line x1="${f(x(t))}" y1="${y}" x2="${f(x(t))}" y2="${y + 5}" stroke="#818b98"/>`,
      `<text x="${f(x(t))}" y="${y + 18}" text-anchor="middle" fill="#59636e">${esc(label)}</text>`,
    );
  }
  out.push(`<text x="${LEFT + PLOT_WIDTH}" y="${y + 34}" text-anchor="end" fill="#818b98">UTC</text>`);
  return out.join('\n');
}

function failureTitle(check: MonitorCheckLine): string {
  const failed = check.probes.filter((p) => p.verdict === 'fail').map(describeFailure);
  return `check ${check.seq} at ${clock(check.time)}: ${failed.join(', ')}`;
}
