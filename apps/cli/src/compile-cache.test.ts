import { execFile } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

// bin/load-cli.js: the rel command runs through V8's code cache, kept per command in the user's cache directory.
const exec = promisify(execFile);
const bin = fileURLToPath(new URL('../bin/rel.js', import.meta.url));
const config = fileURLToPath(new URL('../../../examples/sandbox/rel.config.yaml', import.meta.url));
// loads and validates the config (yaml and rel's own code), contacts nothing
const command = ['monitor', '60s', '--dry-run', '--config', config];

describe('rel through the code cache', () => {
  let home: string;
  let dir: string;
  const rel = (args = command, env: NodeJS.ProcessEnv = {}) =>
    exec(process.execPath, [bin, ...args], { env: { ...process.env, XDG_CACHE_HOME: home, ...env } });
  const caches = () => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.cache')) : []);
  const only = () => {
    const files = caches();
    expect(files).toHaveLength(1);
    return join(dir, files[0]!);
  };

  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'rel-cache-'));
    dir = join(home, 'rel');
  });
  afterEach(() => {
    rmSync(home, { recursive: true, force: true });
  });

  it("writes a command's cache on its first run (only the owner can read it) and uses it from then on", async () => {
    const plain = await rel(command, { REL_COMPILE_CACHE: '0' });
    expect(existsSync(dir)).toBe(false);

    const first = await rel();
    expect(first.stdout).toBe(plain.stdout);
    const file = only();
    expect(file).toMatch(/[/]v8-monitor-flags-[0-9a-f]{8}\.cache$/);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(file).size).toBeGreaterThan(100_000);

    // V8 took it: a rejected cache would be written again
    const before = readFileSync(file);
    const written = statSync(file).mtimeMs;
    const second = await rel();
    expect(second.stdout).toBe(plain.stdout);
    expect(statSync(file).mtimeMs).toBe(written);
    expect(readFileSync(file).equals(before)).toBe(true);

    // each command, and --version (run without rel's V8 flags), has its own
    await rel(['--version']);
    expect(caches().sort()).toEqual([
      expect.stringMatching(/^v8-monitor-flags-/),
      expect.stringMatching(/^v8-none-plain-/),
    ]);
  });

  it('the script has no import(): run from cached data, Node 20 has no module loader for it', () => {
    const script = readFileSync(fileURLToPath(new URL('../dist-bin/rel.cjs', import.meta.url)), 'utf8');
    expect(script.match(/(?<![\w.$])import\((?!')/g) ?? []).toEqual([]);
  });

  it('a damaged cache is never handed to V8 (it aborts on damaged bytes): the run goes on and writes it anew', async () => {
    await rel();
    const file = only();
    const damaged = readFileSync(file);
    for (let i = damaged.length >> 1; i < (damaged.length >> 1) + 2000; i += 7) damaged[i]! ^= 0x5a;
    writeFileSync(file, damaged);
    const run = await rel();
    expect(run.stdout).toMatch(/^dry run: rel monitor 60s would:/);
    expect(readFileSync(file).equals(damaged)).toBe(false);

    writeFileSync(file, 'not a cache');
    expect((await rel()).stdout).toMatch(/^dry run: rel monitor 60s would:/);
    expect(statSync(file).size).toBeGreaterThan(100_000);
  });

  it('a cache directory others can write to is neither read nor written', async () => {
    mkdirSync(dir, { mode: 0o700 });
    chmodSync(dir, 0o777);
    expect((await rel()).stdout).toMatch(/^dry run: rel monitor 60s would:/);
    expect(caches()).toEqual([]);
  });

  it('REL_COMPILE_CACHE=0, or no home to keep it in: no cache, the same result', async () => {
    const off = await rel(command, { REL_COMPILE_CACHE: '0' });
    expect(off.stdout).toMatch(/^dry run: rel monitor 60s would:/);
    expect(existsSync(dir)).toBe(false);
    const homeless = await rel(command, { XDG_CACHE_HOME: '', HOME: '' });
    expect(homeless.stdout).toBe(off.stdout);
  });

  it('a cache it cannot write (a file where its directory would be) costs only the cache', async () => {
    writeFileSync(dir, 'in the way');
    const run = await rel();
    expect(run.stdout).toMatch(/^dry run: rel monitor 60s would:/);
    expect(run.stderr).toBe('');
    expect(readFileSync(dir, 'utf8')).toBe('in the way');
  });
});
