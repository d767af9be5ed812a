import { RelError } from '@rel/core';
import { localExec } from './exec.js';
import { MAX_TARGET_NAME_BYTES } from './sql.js';
import type { ConnectionSettings, DatabaseExec, ReplicateOptions } from './types.js';

/** Default of `splitTableBytes`. */
export const SPLIT_TABLE_BYTES = 256 * 1024 ** 2;

/** Database names that are also safe as libpq arguments and in messages. */
const DATABASE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

export interface CheckedOptions
  extends Required<Pick<ReplicateOptions, 'source' | 'target' | 'maintenanceDatabase' | 'parallel' | 'freezeWrites'>> {
  execSource: DatabaseExec;
  execTarget: DatabaseExec;
  maintenanceWorkMem: string;
  splitTableBytes: number;
  options: ReplicateOptions;
}

function checkDatabaseName(name: unknown, what: string, maxBytes = 63): void {
  if (typeof name !== 'string' || !DATABASE_NAME.test(name) || Buffer.byteLength(name) > maxBytes) {
    throw new RelError(
      'BAD_INPUT',
      `invalid ${what} ${JSON.stringify(name)}: expected letters, digits, _ . - (up to ${maxBytes} bytes)`,
    );
  }
}

function checkSettings(settings: unknown, what: string, maxBytes?: number): ConnectionSettings {
  if (typeof settings !== 'object' || settings === null) {
    throw new RelError('BAD_INPUT', `${what}: expected connection settings { host, port, user, password, database }`);
  }
  const s = settings as ConnectionSettings;
  checkDatabaseName(s.database, `${what} database name`, maxBytes);
  if (s.port !== undefined && !(Number.isInteger(s.port) && s.port > 0 && s.port < 65536)) {
    throw new RelError('BAD_INPUT', `invalid ${what} port ${JSON.stringify(s.port)}: expected 1-65535`);
  }
  for (const key of ['host', 'user', 'password'] as const) {
    if (s[key] !== undefined && typeof s[key] !== 'string') {
      throw new RelError('BAD_INPUT', `invalid ${what} ${key}: expected a string`);
    }
  }
  return s;
}

/** Validates the options (BAD_INPUT, naming the option; never echoing a password) and fills in defaults. */
export function checkOptions(options: ReplicateOptions): CheckedOptions {
  if (typeof options !== 'object' || options === null) throw new RelError('BAD_INPUT', 'options: expected an object');
  const source = checkSettings(options.source, 'source');
  const target = checkSettings(options.target, 'target', MAX_TARGET_NAME_BYTES);
  const maintenanceDatabase = options.maintenanceDatabase ?? 'postgres';
  checkDatabaseName(maintenanceDatabase, 'maintenance database name');
  if (maintenanceDatabase === target.database) {
    throw new RelError(
      'BAD_INPUT',
      `the maintenance database must not be the target database ${target.database}: it is renamed`,
    );
  }
  const sameServer =
    (source.host ?? 'localhost') === (target.host ?? 'localhost') && (source.port ?? 5432) === (target.port ?? 5432);
  if (sameServer && source.database === target.database) {
    throw new RelError('BAD_INPUT', `source and target are the same database (${source.database})`);
  }
  const parallel = options.parallel ?? 4;
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > 32) {
    throw new RelError('BAD_INPUT', `invalid parallel ${JSON.stringify(parallel)}: expected an integer from 1 to 32`);
  }
  if (options.forceMethod !== undefined && options.forceMethod !== 'copy' && options.forceMethod !== 'dump-restore') {
    throw new RelError(
      'BAD_INPUT',
      `invalid forceMethod ${JSON.stringify(options.forceMethod)}: expected 'copy' or 'dump-restore'`,
    );
  }
  const maintenanceWorkMem = options.maintenanceWorkMem ?? '256MB';
  if (!/^\d+\s*(kB|MB|GB|TB)?$/.test(maintenanceWorkMem)) {
    throw new RelError(
      'BAD_INPUT',
      `invalid maintenanceWorkMem ${JSON.stringify(maintenanceWorkMem)}: expected a size such as 256MB`,
    );
  }
  const splitTableBytes = options.splitTableBytes ?? SPLIT_TABLE_BYTES;
  if (typeof splitTableBytes !== 'number' || Number.isNaN(splitTableBytes) || splitTableBytes < 0) {
    throw new RelError(
      'BAD_INPUT',
      `invalid splitTableBytes ${JSON.stringify(splitTableBytes)}: expected a number of bytes (Infinity never splits)`,
    );
  }
  for (const hook of ['stopConsumer', 'startConsumer', 'beforeSwap', 'execSource', 'execTarget', 'onEvent'] as const) {
    if (options[hook] !== undefined && typeof options[hook] !== 'function') {
      throw new RelError('BAD_INPUT', `invalid ${hook}: expected a function`);
    }
  }
  if ((options.stopConsumer === undefined) !== (options.startConsumer === undefined)) {
    throw new RelError('BAD_INPUT', 'stopConsumer and startConsumer go together: give both or neither');
  }
  return {
    source,
    target,
    maintenanceDatabase,
    parallel,
    freezeWrites: options.freezeWrites === true,
    execSource: options.execSource ?? localExec,
    execTarget: options.execTarget ?? localExec,
    maintenanceWorkMem,
    splitTableBytes,
    options,
  };
}
