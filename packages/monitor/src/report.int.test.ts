// The HTML report of a real monitor run, opened in headless Chromium: the screenshot (decoded here, PNG by
// hand) shows the latency line, the red failure dots, the memory line and the action marker.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodePng, findColor, screenshot, startTestServer, type TestServer } from '@rel/test-utils';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { httpProbe, REPORT_COLORS, readMonitorLog, renderHtmlReport, resourceProbe, runMonitor } from './index.js';

const CHROMIUM = '/usr/bin/chromium';

let server: TestServer;
let dir: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  server = await startTestServer();
  dir = await mkdtemp(join(tmpdir(), 'rel-monitor-report-'));
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

it('the report of a breached run shows its chart in Chromium', async () => {
  const log = join(dir, 'monitor.jsonl');
  let memory = 80 * 1024 * 1024;
  const result = await runMonitor({
    probes: [
      httpProbe({ name: 'api', url: server.url(), timeoutMs: 500 }),
      resourceProbe({
        name: 'green',
        sample: () => {
          memory += 2 * 1024 * 1024;
          return { memoryBytes: memory };
        },
      }),
    ],
    intervalMs: 100,
    durationMs: 10_000,
    policy: { consecutiveFailures: 3 },
    action: async () => ({ rolledBackTo: 'blue' }),
    log: { path: log },
    onEvent: (event) => {
      if (event.type === 'step:progress' && event.current === 12) server.status = 503;
    },
  });
  expect(result.outcome).toBe('breached');

  const html = join(dir, 'report.html');
  await writeFile(html, renderHtmlReport(await readMonitorLog(log), { actionLabel: 'rollback' }));
  const png = join(dir, 'shot.png');
  const took = await screenshot(CHROMIUM, html, png, join(dir, 'profile'));
  console.log(`chromium screenshot took ${took} ms`);
  const image = decodePng(await readFile(png));
  expect(image.width).toBe(1200);
  expect(image.height).toBe(900);

  // The SVG sits below the title lines: latency panel from about y=100 to 400, memory below it.
  const latency = findColor(image, REPORT_COLORS.latency[0]);
  expect(latency.count).toBeGreaterThan(300);
  expect(latency.minX).toBeGreaterThan(60);
  expect(latency.maxX).toBeLessThan(1150);
  expect(latency.maxX - latency.minX).toBeGreaterThan(700);
  expect(latency.minY).toBeGreaterThan(60);
  expect(latency.maxY).toBeLessThan(500);

  const failures = findColor(image, REPORT_COLORS.failure);
  // Three dots of radius 5 (about 75 pixels each) and the legend's marker.
  expect(failures.count).toBeGreaterThan(150);
  expect(failures.minX).toBeGreaterThan(latency.minX + 400);

  const memoryLine = findColor(image, REPORT_COLORS.memory[0]);
  expect(memoryLine.count).toBeGreaterThan(300);
  expect(memoryLine.minY).toBeGreaterThan(latency.maxY);

  const action = findColor(image, REPORT_COLORS.action);
  expect(action.count).toBeGreaterThan(100);
  expect(action.maxY - action.minY).toBeGreaterThan(300);
}, 120_000);
