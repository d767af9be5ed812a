import type { ReadinessCheck } from './strategy.js';
import { WaitStrategy } from './strategy.js';

/** Your own check (see `ReadinessCheck`), described for messages. */
export function forCondition(description: string, check: ReadinessCheck): WaitStrategy {
  return new WaitStrategy(description, () => check);
}
