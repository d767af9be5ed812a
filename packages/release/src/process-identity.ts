import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';

// Processes as the release lock and release records name them: whether a holder still runs, from this host.

/** A process as lock holders and release records name it. */
export interface ProcessIdentity {
  pid: number;
  host: string;
  pidStartTime?: string;
  pidNamespace?: string;
}

/** This process, named so that another process can tell later whether it still runs. */
export function thisProcess(): ProcessIdentity {
  const startTime = processStartTime(process.pid);
  const namespace = pidNamespace();
  return {
    pid: process.pid,
    host: hostname(),
    ...(startTime === undefined ? {} : { pidStartTime: startTime }),
    ...(namespace === undefined ? {} : { pidNamespace: namespace }),
  };
}

/**
 * Whether the process still runs: `alive`, `gone` (dead, or its pid now belongs to another process), or
 * `unknown` when it cannot be checked from here (another host or pid namespace).
 */
export function processState(identity: ProcessIdentity): 'alive' | 'gone' | 'unknown' {
  if (!checkableHere(identity)) return 'unknown';
  return processLiveness(identity) === 'alive' ? 'alive' : 'gone';
}

export function processLiveness(holder: { pid: number; pidStartTime?: string }): 'alive' | 'dead' | 'reused' {
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    if (errnoCode(error) !== 'EPERM') return 'dead';
  }
  if (holder.pidStartTime === undefined) return 'alive';
  const now = processStartTime(holder.pid);
  return now === undefined || now === holder.pidStartTime ? 'alive' : 'reused';
}

/** Field 22 of `/proc/<pid>/stat`: when the process started, in clock ticks since boot. Linux only. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // field 2 (comm) may contain spaces and parentheses: count from the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19];
  } catch {
    return undefined;
  }
}

export function pidNamespace(): string | undefined {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return undefined;
  }
}

/** Whether the holder's pid means something here: same host and (where known) same pid namespace. */
export function checkableHere(holder: ProcessIdentity): boolean {
  const namespace = pidNamespace();
  return holder.host === hostname() && !(holder.pidNamespace && namespace && holder.pidNamespace !== namespace);
}

function errnoCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}
