import { hostname } from 'node:os';
import { join } from 'node:path';
import { appendJsonLine, type Environment, type EventSink, errorMessage, RelError } from '@rel/core';
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
import { announce } from '../notify/announce.js';
import type { NotificationResult } from '../notify/send.js';

export interface SwitchOptions {
  config: RelConfig;
  env: Environment;
  docker: DockerClient;
  onEvent: EventSink;
  signal?: AbortSignal;
  /** More facts for the notifications (a release id, a build URL). */
  notificationFields?: Record<string, string>;
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

/**
 * The seed's blue-green-switch.sh: checks the target, then moves traffic to it and verifies through nginx. A
 * switch that fails once it has started (nginx refused the config, the verification did not pass and traffic
 * went back) is announced as a warning unless `notifyFailure` is false (a release announces its own failure).
 */
export async function switchEnvironment(options: SwitchOptions & { notifyFailure?: boolean }): Promise<SwitchResult> {
  const { config, docker, env } = options;
  const nginx = requireNginx(config);
  const versions = await versionsOf(config, docker, nginx);
  try {
    return await switchTraffic({
      ...switchOptions(options, nginx, versions),
      checkTarget: targetCheck(config, docker, nginx),
    });
  } catch (error) {
    // bad input, configuration and a held lock change nothing and concern the operator only
    const quiet = error instanceof RelError && ['BAD_INPUT', 'CONFIG', 'LOCKED', 'ABORTED'].includes(error.code);
    if (options.notifyFailure !== false && !quiet && !options.signal?.aborted) {
      await announce(
        config,
        {
          severity: 'warning',
          title: `${config.project}: switch to ${env} failed`,
          text: `The switch to ${env} failed: ${errorMessage(error)}`,
          event: 'switch-failed',
          environment: env,
          to: env,
          fields: { ...(versions[env] ? { version: versions[env] } : {}), ...options.notificationFields },
        },
        options.onEvent,
      );
    }
    throw error;
  }
}

/** The forward switch's check of an environment (containers run, health paths answer 200), without switching. */
export async function checkEnvironment(
  config: RelConfig,
  docker: DockerClient,
  env: Environment,
): Promise<TargetCheck> {
  return targetCheck(config, docker, requireNginx(config))(env);
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
  const notifications = await announce(
    config,
    {
      severity: 'critical',
      title: `${config.project}: rolled back to ${env}`,
      text: `Traffic was moved from ${result.from ?? 'unknown'} back to ${env}${options.reason ? `: ${options.reason}` : ''}.`,
      event: 'rollback',
      environment: env,
      ...(result.from ? { from: result.from } : {}),
      to: env,
      at,
      fields: { ...(versions[env] ? { version: versions[env] } : {}), ...options.notificationFields },
    },
    sink,
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
  // one line, appended and flushed to disk (mkdir included)
  appendJsonLine(eventsFile, event);
}
