import { RelError } from '@rel/core';
import { WaitStrategy } from './strategy.js';

/** Every strategy is satisfied (each once is enough). Timeout: the longest of theirs, unless set. */
export function forAll(strategies: WaitStrategy[]): WaitStrategy {
  if (strategies.length === 0) throw new RelError('BAD_INPUT', 'Wait.forAll needs at least one strategy');
  const description = strategies.map((s) => s.description).join(' and ');
  return new WaitStrategy(
    description,
    () => {
      const pending = new Map(strategies.map((s) => [s, s.start()]));
      return async (context) => {
        const errors: string[] = [];
        await Promise.all(
          [...pending].map(async ([strategy, check]) => {
            try {
              if (await check(context)) pending.delete(strategy);
              else errors.push(`${strategy.description}: not yet`);
            } catch (error) {
              if (error instanceof RelError && error.code !== 'TIMEOUT' && error.code !== 'UNREACHABLE') throw error;
              errors.push(`${strategy.description}: ${(error as Error).message}`);
            }
          }),
        );
        if (pending.size === 0) return true;
        throw new Error(errors.join('; '));
      };
    },
    {
      timeoutMs: Math.max(...strategies.map((s) => s.timeoutMs)),
      pollIntervalMs: Math.min(...strategies.map((s) => s.pollIntervalMs)),
    },
  );
}
