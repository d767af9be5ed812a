// For the phases' unit tests: a config file, socket directory and state directory in a temp dir, no nginx.
// The test and reload commands are stand-ins (`true`, or a shell that fails like nginx -t).
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RelEvent } from '@rel/core';
import { readRouting } from '../src/status.js';
import type { SwitchTrafficOptions } from '../src/switch/options.js';
import { type SwitchRun, startSwitch } from '../src/switch/run.js';
import type { AuditEvent, SwitchMethod } from '../src/types.js';

export const ADDRESSES = { blue: { api: '127.0.0.1:18081' }, green: { api: '127.0.0.1:18082' } };

export function reloadConfig(server: string): string {
  return `events {
}
http {
    upstream api {
        server ${server};
    }
    server {
        listen 8080;
        add_header X-Rel-Environment ${server === ADDRESSES.green.api ? 'green' : 'blue'} always;
        location / {
            proxy_pass http://api;
        }
    }
}
`;
}

export interface PhaseFixture {
  dir: string;
  configFile: string;
  socketDir: string;
  stateFile: string;
  auditFile: string;
  /** The config as written at the start. */
  original: string;
  events: RelEvent[];
  options(extra?: Partial<SwitchTrafficOptions>): SwitchTrafficOptions;
  /** A run past the checks: its routing read from the files, the audit log ready. */
  start(extra?: Partial<SwitchTrafficOptions>): Promise<SwitchRun>;
  readAudit(): Promise<AuditEvent[]>;
  cleanup(): Promise<void>;
}

/** Blue is live: the config names blue's address (reload) or `live` points at `blue` (socket). */
export async function phaseFixture(method: SwitchMethod): Promise<PhaseFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'rel-ns-phase-'));
  const configFile = join(dir, 'nginx.conf');
  const socketDir = join(dir, 'sockets');
  const stateFile = join(dir, 'state', 'state.json');
  const auditFile = join(dir, 'state', 'switch-audit.jsonl');
  const original =
    method === 'reload'
      ? reloadConfig(ADDRESSES.blue.api)
      : reloadConfig(`unix:${socketDir}/live/api.sock`).replace(/X-Rel-Environment \w+ always;\n/, '');
  await writeFile(configFile, original);
  await mkdir(join(dir, 'state'));
  if (method === 'socket') {
    await mkdir(join(socketDir, 'blue'), { recursive: true });
    await mkdir(join(socketDir, 'green'));
    await symlink('blue', join(socketDir, 'live'));
  }
  const events: RelEvent[] = [];
  const options = (extra: Partial<SwitchTrafficOptions> = {}): SwitchTrafficOptions => ({
    target: 'green',
    configFile,
    upstreams: ['api'],
    addresses: ADDRESSES,
    stateFile,
    verifyUrl: 'http://127.0.0.1:9/health',
    testCommand: ['true'],
    reload: { kind: 'command', command: ['true'] },
    onEvent: (event) => events.push(event),
    ...extra,
  });
  return {
    dir,
    configFile,
    socketDir,
    stateFile,
    auditFile,
    original,
    events,
    options,
    async start(extra) {
      const run = startSwitch(options(extra));
      run.routing = await readRouting(run.options);
      run.auditReady = true;
      run.from = run.routing.live;
      return run;
    },
    async readAudit() {
      const text = await readFile(auditFile, 'utf8').catch(() => '');
      return text
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as AuditEvent);
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
