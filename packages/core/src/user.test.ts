import { userInfo } from 'node:os';
import { afterEach, describe, expect, it, vi } from 'vitest';

afterEach(() => {
  vi.doUnmock('node:os');
  vi.resetModules();
  vi.unstubAllEnvs();
});

describe('currentUser', () => {
  it("is the OS user's name", async () => {
    const { currentUser } = await import('./index.js');
    expect(currentUser()).toBe(userInfo().username);
  });

  it('without a passwd entry: $USER, else the uid', async () => {
    vi.resetModules();
    vi.doMock('node:os', async (original) => ({
      ...(await original<typeof import('node:os')>()),
      userInfo: () => {
        throw new Error('ENOENT: no such user');
      },
    }));
    const { currentUser } = await import('./user.js');
    vi.stubEnv('USER', 'ci-runner');
    expect(currentUser()).toBe('ci-runner');
    vi.stubEnv('USER', '');
    expect(currentUser()).toBe(`uid ${process.getuid?.() ?? '?'}`);
  });
});
