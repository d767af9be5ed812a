import { isRelError, RelError } from '@rel/core';
import { describe, expect, it, vi } from 'vitest';
import { failure, guard, step, throwIfAborted } from './errors.js';
import { fakeRun, PASSWORD } from './fakes.js';

const pgError = (message: string, code?: string) => Object.assign(new Error(message), code ? { code } : {});

describe('failure', () => {
  it('keeps a RelError as it is', () => {
    const error = new RelError('BAD_INPUT', 'no');
    expect(failure(fakeRun(), error, 'doing')).toBe(error);
  });

  it('sorts a lost connection as UNREACHABLE, by code or by message', () => {
    for (const error of [
      pgError('terminating connection due to administrator command', '57P01'),
      pgError('connection failure', '08006'),
      pgError('read ECONNRESET', 'ECONNRESET'),
      pgError('Connection terminated unexpectedly'),
      pgError('write after end: premature close'),
    ]) {
      const sorted = failure(fakeRun(), error, 'copying public.orders');
      expect(sorted.code).toBe('UNREACHABLE');
      expect(sorted.message).toBe(`copying public.orders failed: ${error.message}`);
      expect(sorted.cause).toBe(error);
    }
  });

  it('sorts anything else as STEP_FAILED, on one line, without the password, with the code in details', () => {
    const error = pgError(`syntax error near "x"\nLINE 1: password=${PASSWORD} and ${PASSWORD}`, '42601');
    const sorted = failure(fakeRun(), error, 'creating index i');
    expect(sorted.code).toBe('STEP_FAILED');
    expect(sorted.message).toBe('creating index i failed: syntax error near "x"');
    expect(sorted.details).toEqual({ code: '42601' });
    const redacted = failure(fakeRun(), pgError(`role app password=${PASSWORD} refused`), 'x');
    expect(redacted.message).toBe('x failed: role app password=*** refused');
    expect(redacted.message).not.toContain(PASSWORD);
  });

  it('says the partial copy is dropped when the disk is full', () => {
    const sorted = failure(fakeRun(), pgError('could not extend file: No space left on device', '53100'), 'copying t');
    expect(sorted.code).toBe('STEP_FAILED');
    expect(sorted.message).toBe(
      'copying t failed: could not extend file: No space left on device (disk full); app is untouched, the partial copy is dropped',
    );
  });

  it('is ABORTED once the run is aborted, whatever failed', () => {
    const run = fakeRun();
    run.controller.abort();
    const sorted = failure(run, new RelError('STEP_FAILED', 'closed'), 'copying t');
    expect(sorted.code).toBe('ABORTED');
    expect(sorted.message).toBe('replication of 127.0.0.1:5433/app stopped while copying t; app is untouched');
    expect(() => throwIfAborted(run)).toThrow('replication of 127.0.0.1:5433/app stopped; app is untouched');
    expect(() => throwIfAborted(fakeRun())).not.toThrow();
  });
});

describe('guard and step', () => {
  it('guard sorts what the work throws and passes its result through', async () => {
    const run = fakeRun();
    await expect(guard(run, 'reading', async () => 7)).resolves.toBe(7);
    const error = await guard(run, 'reading', () => Promise.reject(pgError('gone', '08006'))).catch((e) => e);
    expect(isRelError(error) && error.code).toBe('UNREACHABLE');
    expect(error.message).toBe('reading failed: gone');
  });

  it('step reports start, progress and finish, and a failure named after the step', async () => {
    const run = fakeRun();
    const result = await step(
      run,
      'db:replicate:copy',
      'copying',
      async (progress) => {
        progress('half', { current: 1, total: 2 });
        return 3;
      },
      (n) => `copied ${n}`,
    );
    expect(result).toBe(3);
    expect(run.events.map((e) => [e.type, 'step' in e ? e.step : '', e.message])).toEqual([
      ['step:start', 'db:replicate:copy', 'copying'],
      ['step:progress', 'db:replicate:copy', 'half'],
      ['step:finish', 'db:replicate:copy', 'copied 3'],
    ]);
    const failed = await step(run, 'db:replicate:swap', 'swapping', () => Promise.reject(pgError('boom'))).catch(
      (e) => e,
    );
    expect(failed.message).toBe('swapping failed: boom');
    expect(run.events.at(-1)).toMatchObject({
      type: 'step:fail',
      step: 'db:replicate:swap',
      error: { code: 'STEP_FAILED', message: 'swapping failed: boom' },
    });
  });

  it('step does not start the work of an aborted run', async () => {
    const run = fakeRun();
    run.controller.abort();
    const work = vi.fn(async () => 1);
    const error = await step(run, 'db:replicate:verify', 'verifying', work).catch((e) => e);
    expect(work).not.toHaveBeenCalled();
    expect(error.code).toBe('ABORTED');
    expect(error.message).toBe('replication of 127.0.0.1:5433/app stopped; app is untouched');
  });
});
