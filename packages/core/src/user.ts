import { userInfo } from 'node:os';

/**
 * Who runs this process, for lock holders, audit and event logs: the OS user name; without a passwd entry (a
 * container running as an arbitrary uid) `$USER`, else `uid <n>`.
 */
export function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER || `uid ${process.getuid?.() ?? '?'}`;
  }
}
