export { localExec } from './exec.js';
export { replicateDatabase } from './replicate.js';
export type {
  ConnectionSettings,
  DatabaseExec as PgToolExec,
  ExecOptions as PgToolExecOptions,
  ExecResult as PgToolExecResult,
  ReplicateOptions,
  ReplicateResult,
  ReplicationMethod,
  TableReplication,
  VerificationSummary,
} from './types.js';
