// kill -9 of a switch at the start of each of its steps, then a rerun: it converges. The switch runs in a
// child process (this package's source bundled with esbuild) that blocks when a chosen step starts; the test
// kills it there with SIGKILL, checks that nginx still serves one environment completely and the state file
// is valid, then runs the switch again in-process.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SwitchFixture, startSwitchFixture } from '../test/switch-fixture.js';
import { readState, switchTraffic, verifyEnvironment } from './index.js';
import type { SwitchMethod } from './types.js';

const SRC = dirname(fileURLToPath(import.meta.url));

const CHILD = `
import { switchTraffic } from './index.ts';
const [, , optionsJson, pauseAt] = process.argv;
const options = JSON.parse(optionsJson);
const gate = new Int32Array(new SharedArrayBuffer(4));
options.onEvent = (event) => {
  if (event.type === 'step:start' && event.step === pauseAt) {
    process.stdout.write('PAUSED ' + event.step + '\\n');
    Atomics.wait(gate, 0, 0, 60000);
  }
};
switchTraffic(options).then(
  () => process.stdout.write('DONE\\n'),
  (error) => {
    process.stdout.write('ERROR ' + error.message + '\\n');
    process.exitCode = 1;
  },
);
`;

let buildDir: string;
let childScript: string;

beforeAll(async () => {
  buildDir = await mkdtemp(join(tmpdir(), 'rel-ns-child-'));
  childScript = join(buildDir, 'switch-child.cjs');
  await build({
    stdin: { contents: CHILD, resolveDir: SRC, loader: 'ts' },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outfile: childScript,
    logLevel: 'silent',
  });
});

afterAll(async () => {
  await rm(buildDir, { recursive: true, force: true });
});

/** Runs the switch in a child, kills it with SIGKILL once `step` starts; resolves when it is dead. */
async function killSwitchAt(options: object, step: string): Promise<void> {
  const child: ChildProcess = spawn(process.execPath, [childScript, JSON.stringify(options), step], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(`PAUSED ${step}`)) resolve();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('exit', () => reject(new Error(`the switch ended before ${step}: ${output.trim()}`)));
  });
  child.kill('SIGKILL');
  await exited;
}

// Per step killed at: who serves right after the kill, and whether the rerun finds the switch half done.
const STEPS: Record<SwitchMethod, [step: string, serving: string, resumed: boolean][]> = {
  reload: [
    ['nginx:backup', 'blue', false],
    ['nginx:write', 'blue', false],
    ['nginx:test', 'blue', true], // the config already routes to green, nginx has not loaded it
    ['nginx:reload', 'blue', true],
    ['nginx:verify', 'green', true],
    ['nginx:record', 'green', true],
  ],
  socket: [
    ['nginx:backup', 'blue', false],
    ['nginx:flip', 'blue', false],
    ['nginx:verify', 'green', true],
    ['nginx:record', 'green', true],
  ],
};

describe.each(['reload', 'socket'] as const)('kill -9 of a switch, %s method', (method: SwitchMethod) => {
  let fixture: SwitchFixture;

  beforeAll(async () => {
    fixture = await startSwitchFixture(method);
  });

  afterAll(async () => {
    await fixture?.stop();
  });

  it.each(STEPS[method])(
    'killed when %s starts: %s serves, state is valid; reruns converge',
    async (step, servingAfterKill, resumes) => {
      await fixture.reset();
      const stateDir = await mkdtemp(join(tmpdir(), 'rel-ns-state-'));
      try {
        const { checkTarget: _, ...serializable } = fixture.options('green', stateDir);
        await killSwitchAt(serializable, step);

        // `nginx -s reload` returns before the new workers take over: give a reload that was sent time to land.
        const landed = await verifyEnvironment({
          url: fixture.nginx.url('/health'),
          environment: 'green',
          timeoutMs: 2_000,
        });
        expect(landed.ok).toBe(servingAfterKill === 'green');
        expect(await fixture.serving()).toBe(servingAfterKill);
        const state = await readState(join(stateDir, 'state.json'));
        if (step === 'nginx:backup') expect(state).toBeUndefined();
        else expect(state?.pending?.to).toBe('green');

        const rerun = await switchTraffic(fixture.options('green', stateDir));
        expect(rerun).toMatchObject({ changed: true, to: 'green', resumed: resumes });
        expect(await fixture.serving()).toBe('green');
        expect(await readState(join(stateDir, 'state.json'))).toMatchObject({ live: 'green', previous: 'blue' });
        expect((await readState(join(stateDir, 'state.json')))?.pending).toBeUndefined();

        const rollback = await switchTraffic(fixture.options('blue', stateDir, { skipTargetCheck: true }));
        expect(rollback).toMatchObject({ changed: true, from: 'green', to: 'blue' });
        expect(await fixture.serving()).toBe('blue');
      } finally {
        await rm(stateDir, { recursive: true, force: true });
      }
    },
  );

  it('killed before the config is reloaded, a rollback instead of a rerun converges too', async () => {
    await fixture.reset();
    const stateDir = await mkdtemp(join(tmpdir(), 'rel-ns-state-'));
    try {
      const { checkTarget: _, ...serializable } = fixture.options('green', stateDir);
      await killSwitchAt(serializable, method === 'reload' ? 'nginx:reload' : 'nginx:verify');
      const rollback = await switchTraffic(fixture.options('blue', stateDir, { skipTargetCheck: true }));
      expect(rollback.to).toBe('blue');
      expect(await fixture.serving()).toBe('blue');
      const state = await readState(join(stateDir, 'state.json'));
      expect(state).toMatchObject({ live: 'blue' });
      expect(state?.pending).toBeUndefined();
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});
