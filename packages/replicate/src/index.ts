export { localExec } from './exec.js';
export { replicateDatabase } from './replicate.js';
export type {
  ConnectionSettings,
  DatabaseExec,
  ExecOptions,
  ExecResult,
  ReplicateOptions,
  ReplicateResult,
  ReplicationMethod,
  TableReplication,
  VerificationSummary,
} from './types.js';
