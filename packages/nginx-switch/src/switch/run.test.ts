import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RelError } from '@rel/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type PhaseFixture, phaseFixture } from '../../test/phase-fixture.js';
import { appendAudit, refuseOnFailure, runPhase, startSwitch } from './run.js';

let fixture: PhaseFixture;

beforeEach(async () => {
  fixture = await phaseFixture('reload');
});

afterEach(async () => {
  await fixture.cleanup();
});

describe('startSwitch', () => {
  it('puts the audit log and backups next to the state file unless told otherwise', () => {
    const run = startSwitch(fixture.options());
    expect(run).toMatchObject({
      target: 'green',
      urls: ['http://127.0.0.1:9/health'],
      auditFile: fixture.auditFile,
      backupDir: join(fixture.dir, 'state', 'nginx-backups'),
      testCommand: ['true'],
    });
    const defaults = startSwitch({ ...fixture.options(), testCommand: undefined, reload: undefined });
    expect(defaults.testCommand).toEqual(['nginx', '-t']);
    expect(defaults.reload).toEqual({ kind: 'command', command: ['nginx', '-s', 'reload'] });
  });

  it('the undo commands keep the timeout but not the abort signal', () => {
    const signal = new AbortController().signal;
    const run = startSwitch(fixture.options({ signal, commandTimeoutMs: 1234 }));
    expect(run.commandOptions).toEqual({ timeoutMs: 1234, signal });
    expect(run.undoCommandOptions).toEqual({ timeoutMs: 1234 });
  });

  it('passes the verification options on under their verifyEnvironment names', () => {
    const run = startSwitch(
      fixture.options({
        verifyUrl: ['http://a/', 'http://b/'],
        verifyConsecutive: 3,
        verifyTimeoutMs: 700,
        header: 'X-Env',
      }),
    );
    expect(run.verifyOptions).toEqual({
      url: ['http://a/', 'http://b/'],
      consecutive: 3,
      timeoutMs: 700,
      header: 'X-Env',
    });
  });

  it('refuses an unknown environment and no URL with BAD_INPUT, touching nothing', () => {
    expect(() => startSwitch(fixture.options({ target: 'purple' }))).toThrow(
      expect.objectContaining({ code: 'BAD_INPUT' }),
    );
    expect(() => startSwitch(fixture.options({ verifyUrl: [] }))).toThrow(
      expect.objectContaining({ code: 'BAD_INPUT', message: 'no verification URL given' }),
    );
  });
});

describe('runPhase', () => {
  it('runs the step nginx:<name> and adds up the time of a phase that runs twice', async () => {
    const run = startSwitch(fixture.options());
    await runPhase(run, 'check', 'first', async () => new Promise((resolve) => setTimeout(resolve, 20)));
    await runPhase(run, 'check', 'second', async () => new Promise((resolve) => setTimeout(resolve, 20)));
    await expect(runPhase(run, 'test', 'failing', async () => Promise.reject(new Error('no')))).rejects.toThrow();
    expect(run.durations.check).toBeGreaterThanOrEqual(36);
    expect(Object.keys(run.durations)).toEqual(['check', 'test']);
    const steps = fixture.events.filter((event) => event.type === 'step:start').map((event) => event.step);
    expect(steps).toEqual(['nginx:check', 'nginx:check', 'nginx:test']);
  });
});

describe('appendAudit', () => {
  it('writes nothing before the checks have found the routing and a writable audit directory', async () => {
    const run = startSwitch(fixture.options());
    await appendAudit(run, 'refused', new RelError('CONFIG', 'nope'));
    expect(await fixture.readAudit()).toEqual([]);
  });

  it('then one line per call: who, what, the result, durations and the error', async () => {
    const run = await fixture.start({ versions: { green: 'v2' } });
    run.durations.check = 12;
    await appendAudit(run, 'failed', new RelError('CONFIG', 'nginx config test failed: bad'));
    const [event] = await fixture.readAudit();
    expect(event).toMatchObject({
      from: 'blue',
      to: 'green',
      versions: { green: 'v2' },
      method: 'reload',
      result: 'failed',
      durations: { check: 12 },
      configFile: fixture.configFile,
      error: { code: 'CONFIG', message: 'nginx config test failed: bad' },
    });
    expect(event?.user).toEqual(expect.any(String));
  });

  it('a log it cannot append to is a warn event, not an error', async () => {
    const blocker = join(fixture.dir, 'a-file');
    await writeFile(blocker, '');
    const run = await fixture.start({ auditFile: join(blocker, 'audit.jsonl') });
    await appendAudit(run, 'switched');
    expect(fixture.events).toContainEqual(
      expect.objectContaining({
        type: 'log',
        level: 'warn',
        message: expect.stringContaining('could not append to the audit log'),
      }),
    );
  });
});

describe('refuseOnFailure', () => {
  it('appends a refused line with the error, a plain Error as STEP_FAILED, and rethrows it as it was', async () => {
    const run = await fixture.start();
    const error = new Error('disk on fire');
    await expect(refuseOnFailure(run, async () => Promise.reject(error))).rejects.toBe(error);
    expect((await fixture.readAudit())[0]).toMatchObject({
      result: 'refused',
      error: { code: 'STEP_FAILED', message: 'disk on fire' },
    });
  });
});
