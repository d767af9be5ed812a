import { describe, expect, it } from 'vitest';
import { followSignal, lastLines, mib, rate } from './context.js';
import { fakeRun, PASSWORD } from './fakes.js';

describe('createRun', () => {
  it('names the databases of the run and where they are, and keeps the passwords to redact', () => {
    const run = fakeRun();
    expect(run.names).toEqual({
      target: 'app',
      fresh: 'app__rel_new',
      previous: 'app__rel_previous',
      old: 'app__rel_old',
    });
    expect(run.sourceWhere).toBe('127.0.0.1:5433/app');
    expect(run.newWhere).toBe('127.0.0.1:5434/app__rel_new');
    expect(run.secrets).toEqual([PASSWORD, PASSWORD]);
    expect(run.options.parallel).toBe(4);
  });
});

describe('followSignal', () => {
  it('aborts with the caller signal, at once when it is aborted already, and not after detach', () => {
    const caller = new AbortController();
    const followed = followSignal(caller.signal);
    expect(followed.controller.signal.aborted).toBe(false);
    caller.abort('why');
    expect(followed.controller.signal.aborted).toBe(true);
    expect(followed.controller.signal.reason).toBe('why');

    expect(followSignal(AbortSignal.abort('early')).controller.signal.aborted).toBe(true);
    expect(followSignal(undefined).controller.signal.aborted).toBe(false);

    const later = new AbortController();
    const detached = followSignal(later.signal);
    detached.detach();
    later.abort();
    expect(detached.controller.signal.aborted).toBe(false);
  });
});

describe('formatting', () => {
  it('writes sizes, rates and the last lines of a tool', () => {
    expect(mib(3 * 1024 ** 2)).toBe('3.0 MiB');
    expect(rate(2 * 1024 ** 2, 2000)).toBe('1.0 MiB/s');
    expect(rate(1024 ** 2, 0)).toBe('1000.0 MiB/s');
    expect(lastLines('a\nb\nc\nd\n')).toBe('b | c | d');
  });
});
