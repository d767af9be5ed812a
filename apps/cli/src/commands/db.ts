import { formatDuration } from '@rel/core';
import type { MigrateResult, MigrationPlan } from '@rel/db-migrate';
import {
  acquireReleaseLock,
  backupEnvironment,
  checkReplicatePair,
  checkReplicateTargets,
  checkRestoreSource,
  guardTarget,
  migrateEnvironment,
  parseEnvironmentName,
  parseWholeNumber,
  planReplicate,
  replicateEnvironment,
  restoreEnvironment,
} from '@rel/release';
import { EXIT } from '@rel/release/config';
import type { CommandContext, CommandModule } from '../commands.js';
import { lazyDockerClient } from './docker.js';
import { environmentArgument, targetArgument } from './target.js';

function lock(context: CommandContext, command: string) {
  const config = context.config();
  return acquireReleaseLock({
    stateDir: config.stateDir,
    project: config.project,
    command,
    onEvent: context.reporter.sink,
  });
}

export const migrateCommand: CommandModule = {
  async run(context) {
    parseEnvironmentName(context.args[0]);
    const config = context.config();
    const connect = lazyDockerClient();
    const env = await targetArgument(context, connect, context.args[0], 'migrate the database of');
    const docker = await connect();
    const base = { config, env, docker, onEvent: context.reporter.sink, signal: context.signal };
    if (context.options.dryRun) {
      const plan = (await migrateEnvironment({ ...base, dryRun: true })) as MigrationPlan;
      const lines = [
        `dry run: rel db migrate ${env} would apply ${plan.pending.length} migration(s) (${plan.alreadyApplied.length} applied already):`,
        ...plan.pending.map((id) => `  ${id}`),
        ...plan.nonTransactional.map((n) => `  note: ${n.migrationId} runs outside a transaction (${n.reason})`),
        ...plan.warnings.map((w) => `  warning: ${w.migrationId}: ${w.message}`),
      ];
      context.reporter.result(lines.join('\n'), plan);
      return EXIT.OK;
    }
    await using _lock = await lock(context, `db migrate ${env}`);
    const result = (await migrateEnvironment(base)) as MigrateResult;
    const backup = result.backup ? `; backup ${result.backup.file}` : '';
    context.reporter.result(
      result.applied.length === 0
        ? `${env}'s database is up to date (${result.alreadyApplied.length} migration(s) applied before)${backup}`
        : `${env}'s database: applied ${result.applied.join(', ')} in ${formatDuration(result.durationMs)}${backup}`,
      result,
    );
    return EXIT.OK;
  },
};

export const backupCommand: CommandModule = {
  async run(context) {
    parseEnvironmentName(context.args[0]);
    const connect = lazyDockerClient();
    const { env } = await environmentArgument(context, connect, context.args[0]);
    if (context.options.dryRun) {
      context.reporter.result(
        `dry run: rel db backup ${env} would dump ${env}'s database with pg_dump -Fc into the state directory`,
      );
      return EXIT.OK;
    }
    const docker = await connect();
    await using _lock = await lock(context, `db backup ${env}`);
    const result = await backupEnvironment({
      config: context.config(),
      env,
      docker,
      onEvent: context.reporter.sink,
      signal: context.signal,
    });
    context.reporter.result(
      `backup of ${env}: ${result.file} (${result.bytes} bytes, sha256 ${result.sha256.slice(0, 12)}…)`,
      result,
    );
    return EXIT.OK;
  },
};

export const restoreCommand: CommandModule = {
  async run(context) {
    const named = parseEnvironmentName(context.args[0]);
    const backup = context.args[1]!;
    // Not --force: that one allows the live environment as the target; trusting an unrecorded file is another choice.
    const allowUnverified = Boolean(context.options['force-unverified']);
    // a backup that is missing or not one rel knows is bad input: said before the engine is asked anything
    const checked =
      named === 'blue' || named === 'green'
        ? await checkRestoreSource({ config: context.config(), env: named, backup, allowUnverified })
        : undefined;
    const connect = lazyDockerClient();
    const env = await targetArgument(context, connect, context.args[0], 'restore the database of');
    const config = context.config();
    if (context.options.dryRun) {
      // The same check the restore makes: a dry run never claims it would restore a file the restore refuses.
      const source = checked ?? (await checkRestoreSource({ config, env, backup, allowUnverified }));
      const what = source.verified
        ? `${source.file} (a backup of ${source.verified.manifest.environment ?? 'an environment'}'s database ${source.verified.manifest.database} taken ${source.verified.manifest.createdAt}, sha256 ${source.verified.sha256.slice(0, 12)}… matches its manifest)`
        : `${source.file}, unverified (--force-unverified): ${source.unverified}`;
      context.reporter.result(`dry run: rel db restore ${env} ${backup} would replace ${env}'s database with ${what}`, {
        env,
        ...source,
      });
      return EXIT.OK;
    }
    const docker = await connect();
    await using _lock = await lock(context, `db restore ${env}`);
    const result = await restoreEnvironment({
      config,
      env,
      docker,
      backup,
      allowUnverified,
      onEvent: context.reporter.sink,
      signal: context.signal,
    });
    const how = result.unverified === undefined ? 'verified against its manifest' : `unverified: ${result.unverified}`;
    context.reporter.result(
      `restored ${env}'s database from ${result.file} in ${formatDuration(result.durationMs)} (${how})`,
      result,
    );
    return EXIT.OK;
  },
};

export const replicateCommand: CommandModule = {
  async run(context) {
    const source = parseEnvironmentName(context.args[0], 'source environment');
    const target = parseEnvironmentName(context.args[1], 'target environment');
    // the same environment twice is bad input, said before the engine is asked anything
    checkReplicatePair(source, target);
    const parallel =
      typeof context.options.parallel === 'string'
        ? parseWholeNumber(context.options.parallel, '--parallel', 1, 32)
        : undefined;
    const config = context.config();
    const force = Boolean(context.options.force);
    const connect = lazyDockerClient();
    const { env: from } = await environmentArgument(context, connect, context.args[0], 'source environment');
    const { env: to, view } = await environmentArgument(context, connect, context.args[1], 'target environment');
    if (context.options.dryRun) {
      const live = await checkReplicateTargets(config, from, to, force);
      const plan = planReplicate(config, from, to, live);
      context.reporter.result(
        [`dry run: rel db replicate ${from} ${to} would:`, ...plan.steps.map((s, i) => `  ${i + 1}. ${s}`)].join('\n'),
        plan,
      );
      return EXIT.OK;
    }
    await checkReplicateTargets(config, from, to, force);
    const docker = await connect();
    await guardTarget({ config, docker, env: to, action: 'replicate into', force, ...(view ? { view } : {}) });
    await using _lock = await lock(context, `db replicate ${from} ${to}`);
    const result = await replicateEnvironment({
      config,
      from,
      to,
      docker,
      force,
      freezeWrites: Boolean(context.options['freeze-writes']),
      ...(parallel ? { parallel } : {}),
      onEvent: context.reporter.sink,
      signal: context.signal,
    });
    const rows = result.tables.reduce((sum, t) => sum + t.rows, 0);
    const frozen =
      result.frozenMs === undefined ? '' : `; ${from} was read-only for ${formatDuration(result.frozenMs)}`;
    context.reporter.result(
      [
        `${to}'s database now holds ${from}'s as of ${result.snapshotAt}: ${result.tables.length} tables, ${rows} rows, verified (${result.method}${result.method === 'copy' ? '' : `: ${result.reason}`}) in ${formatDuration(result.durations.totalMs)}${frozen}`,
        ...(result.previousDatabase ? [`${to}'s previous database is kept as ${result.previousDatabase}`] : []),
      ].join('\n'),
      result,
    );
    return EXIT.OK;
  },
};
