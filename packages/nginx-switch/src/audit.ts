import { hostname } from 'node:os';
import { appendJsonLine, currentUser } from '@rel/core';
import type { AuditEvent } from './types.js';

/** Who runs this: @rel/core's `currentUser()` (the OS user name, else `$USER`, else `uid <n>`). */
export { currentUser };

/** This machine's host name. */
export function currentHost(): string {
  return hostname();
}

/** Appends one audit event as a JSON line: one O_APPEND write, flushed to disk (@rel/core's `appendJsonLine`). */
export async function appendAuditEvent(auditFile: string, event: AuditEvent): Promise<void> {
  appendJsonLine(auditFile, event);
}
