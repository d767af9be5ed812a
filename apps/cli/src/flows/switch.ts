import { appendFile, mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { type Environment, type EventSink, RelError, runStep } from '@rel/core';
import { type DockerClient, findContainers } from '@rel/docker';
import {
  type EnvironmentAddresses,
  type LiveEnvironment,
  readLiveEnvironment,
  type SwitchResult,
  switchTraffic,
  type TargetCheck,
} from '@rel/nginx-switch';
import type { NginxConfig, RelConfig } from '../config/schema.js';
import { currentUser } from '../lock.js';
import { type NotificationResult, sendNotifications } from '../notify/index.js';

export interface SwitchOptions {
  config: RelConfig;
  env: Environment;
  docker: DockerClient;
  onEvent: EventSink;
  signal?: AbortSignal;
}

export interface RollbackResult {
  switch: SwitchResult;
  notifications: NotificationResult[];
}

/** Where the switch keeps its files, under the state directory. */
export function switchFiles(config: RelConfig) {
  return {
    stateFile: join(config.stateDir, 'live.json'),
    auditFile: join(config.stateDir, 'switch-audit.jsonl'),
    backupDir: join(config.stateDir, 'nginx-backups'),
    eventsFile: join(config.stateDir, 'release-events.jsonl'),
  };
}

export function requireNginx(config: RelConfig): NginxConfig {
  if (!config.nginx) {
    throw new RelError(
      'CONFIG',
      `${config.file}: nginx: missing (rel switch, rollback and release need the nginx section)`,
    );
  }
  return config.nginx;
}

function upstreamsOf(nginx: NginxConfig): string[] {
  return [nginx.upstreams.api, ...(nginx.upstreams.client ? [nginx.upstreams.client] : [])];
}

/** Each environment's addresses for the upstreams: its API and client ports on 127.0.0.1. */
function addressesOf(config: RelConfig, nginx: NginxConfig): EnvironmentAddresses {
  const forEnv = (env: Environment) => ({
    [nginx.upstreams.api]: `127.0.0.1:${config.environments[env].apiPort}`,
    ...(nginx.upstreams.client ? { [nginx.upstreams.client]: `127.0.0.1:${config.environments[env].clientPort}` } : {}),
  });
  return { blue: forEnv('blue'), green: forEnv('green') };
}

function routingOptions(config: RelConfig, nginx: NginxConfig) {
  return {
    configFile: nginx.configFile,
    upstreams: upstreamsOf(nginx),
    addresses: addressesOf(config, nginx),
    ...(nginx.method === 'auto' ? {} : { method: nginx.method }),
    socketDir: nginx.socketDir,
  };
}

/** Running containers of an environment, by role, with their versions; refuses an environment without them. */
async function runningContainers(config: RelConfig, docker: DockerClient, env: Environment, nginx: NginxConfig) {
  const containers = await findContainers(docker, { project: config.project, environment: env });
  const running = containers.filter((c) => c.state === 'running');
  const roles = ['api', ...(nginx.upstreams.client ? ['client'] : [])];
  const missing = roles.filter((role) => !running.some((c) => c.role === role));
  return { running, missing, version: running.find((c) => c.role === 'api')?.version };
}

/** The forward switch's check of the target: its containers run and its health paths answer 200, directly. */
function targetCheck(config: RelConfig, docker: DockerClient, nginx: NginxConfig) {
  return async (env: Environment): Promise<TargetCheck> => {
    const { missing } = await runningContainers(config, docker, env, nginx);
    if (missing.length > 0) return { ok: false, reason: `${env} has no running ${missing.join(' or ')} container` };
    const checks = [
      { what: 'API', url: `http://127.0.0.1:${config.environments[env].apiPort}${config.backend.health.path}` },
      ...(nginx.upstreams.client
        ? [
            {
              what: 'client',
              url: `http://127.0.0.1:${config.environments[env].clientPort}${config.frontend.health.path}`,
            },
          ]
        : []),
    ];
    for (const { what, url } of checks) {
      const status = await fetch(url, { signal: AbortSignal.timeout(3000) }).then(
        async (r) => {
          await r.arrayBuffer();
          return String(r.status);
        },
        (e: Error & { cause?: { code?: string } }) => e.cause?.code ?? e.name,
      );
      if (status !== '200') return { ok: false, reason: `${env}'s ${what} answers ${status} at ${url}` };
    }
    return { ok: true };
  };
}

async function versionsOf(config: RelConfig, docker: DockerClient, nginx: NginxConfig) {
  const [blue, green] = await Promise.all(
    (['blue', 'green'] as const).map((env) => runningContainers(config, docker, env, nginx).then((r) => r.version)),
  );
  return { ...(blue ? { blue } : {}), ...(green ? { green } : {}) };
}

function switchOptions(options: SwitchOptions, nginx: NginxConfig, versions: Partial<Record<Environment, string>>) {
  const { config, env, onEvent, signal } = options;
  const files = switchFiles(config);
  return {
    ...routingOptions(config, nginx),
    target: env,
    stateFile: files.stateFile,
    auditFile: files.auditFile,
    backupDir: files.backupDir,
    keepBackups: nginx.keepBackups,
    testCommand: nginx.testCommand,
    reload: nginx.reload,
    verifyUrl: `${nginx.publicUrl}${nginx.verify.path}`,
    header: nginx.header,
    verifyConsecutive: nginx.verify.consecutive,
    verifyTimeoutMs: nginx.verify.timeoutMs,
    ...(nginx.verify.settleMs === undefined ? {} : { verifySettleMs: nginx.verify.settleMs }),
    versions,
    onEvent,
    ...(signal ? { signal } : {}),
  };
}

/** The seed's blue-green-switch.sh: checks the target, then moves traffic to it and verifies through nginx. */
export async function switchEnvironment(options: SwitchOptions): Promise<SwitchResult> {
  const { config, docker } = options;
  const nginx = requireNginx(config);
  const versions = await versionsOf(config, docker, nginx);
  return switchTraffic({ ...switchOptions(options, nginx, versions), checkTarget: targetCheck(config, docker, nginx) });
}

/**
 * The seed's emergency-rollback.sh: straight back to `env` without the forward switch's checks (but never to
 * an environment with no running containers), verified through nginx; then critical notifications, which
 * never block or fail the rollback; then a rollback event in the state directory.
 */
export async function rollbackTo(options: SwitchOptions & { reason?: string }): Promise<RollbackResult> {
  const { config, docker, env, onEvent: sink } = options;
  const nginx = requireNginx(config);
  const { missing } = await runningContainers(config, docker, env, nginx);
  if (missing.length > 0) {
    throw new RelError(
      'UNHEALTHY',
      `refusing to roll back to ${env}: it has no running ${missing.join(' or ')} container`,
    );
  }
  const versions = await versionsOf(config, docker, nginx);
  const result = await switchTraffic({ ...switchOptions(options, nginx, versions), skipTargetCheck: true });
  if (!result.changed) return { switch: result, notifications: [] };
  const at = new Date().toISOString();
  const notifications = await runStep(
    sink,
    'notify',
    `send critical notifications (${config.notifications.targets.length})`,
    async (_, inner) =>
      sendNotifications(
        config.notifications.targets,
        {
          severity: 'critical',
          title: `${config.project}: rolled back to ${env}`,
          text: `Traffic was moved from ${result.from ?? 'unknown'} back to ${env}${options.reason ? `: ${options.reason}` : ''}.`,
          project: config.project,
          event: 'rollback',
          environment: env,
          ...(result.from ? { from: result.from } : {}),
          to: env,
          at,
          fields: { host: hostname(), ...(versions[env] ? { version: versions[env] } : {}) },
        },
        {
          onEvent: inner,
          timeoutMs: config.notifications.timeoutMs,
          retries: config.notifications.retries,
          secrets: config.secrets,
        },
      ),
  );
  await recordEvent(config, {
    event: 'rollback',
    at,
    user: currentUser(),
    host: hostname(),
    from: result.from ?? null,
    to: env,
    versions,
    ...(options.reason ? { reason: options.reason } : {}),
    notifications: notifications.map((n) => ({ target: n.target, ok: n.ok })),
  });
  return { switch: result, notifications };
}

/** For `rel status`: the live environment and since when, or why it is unknown. */
export async function readLive(config: RelConfig): Promise<LiveEnvironment | undefined> {
  if (!config.nginx) return undefined;
  return readLiveEnvironment({ ...routingOptions(config, config.nginx), stateFile: switchFiles(config).stateFile });
}

async function recordEvent(config: RelConfig, event: Record<string, unknown>): Promise<void> {
  const { eventsFile } = switchFiles(config);
  await mkdir(config.stateDir, { recursive: true });
  await appendFile(eventsFile, `${JSON.stringify(event)}\n`, { flag: 'a' });
}
