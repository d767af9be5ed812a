import { hostname, userInfo } from 'node:os';
import { appendLine } from './atomic-write.js';
import type { AuditEvent } from './types.js';

/** Who runs this: the OS user name, else `$USER`, else `unknown`. */
export function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}

/** This machine's host name. */
export function currentHost(): string {
  return hostname();
}

/** Appends one audit event as a JSON line with a single O_APPEND write. */
export async function appendAuditEvent(auditFile: string, event: AuditEvent): Promise<void> {
  await appendLine(auditFile, JSON.stringify(event));
}
