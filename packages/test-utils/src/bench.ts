// The figures benchmarks print, and the docker CLI as they run it.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The median of some numbers (the upper one of an even count). */
export const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
export const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
export const mib = (bytes: number): string => `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
export const gib = (bytes: number): string => `${(bytes / 1024 ** 3).toFixed(2)} GiB`;

/** Runs the docker CLI; its output as execFile gives it (rejects on a non-zero exit). */
export function dockerCli(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run('docker', args, { maxBuffer: 1 << 26 });
}
