export type { ConnectionDescription, PostgresConnectOptions, PostgresSession } from './connect.js';
export {
  applicationName,
  connectionError,
  connectPostgres,
  describeConnection,
  oneLine,
} from './connect.js';
export { localExec, pgToolEnv } from './exec.js';
export type { ConnectionSettings, DatabaseConnection, DatabaseExec, ExecOptions, ExecResult } from './types.js';
