import { RelError } from '@rel/core';
import { oneLine } from '../client.js';
import { WaitStrategy } from './strategy.js';

/** The container's health check (from its image or spec) reports `healthy`; `unhealthy` fails at once (UNHEALTHY). */
export function forHealthCheck(): WaitStrategy {
  return new WaitStrategy('its health check to report healthy', () => async ({ container, containerName }) => {
    const health = container.State.Health;
    if (!health) {
      throw new RelError('CONFIG', `container ${containerName} has no health check; wait for something else`);
    }
    if (health.Status === 'healthy') return true;
    if (health.Status === 'unhealthy') {
      const output = oneLine(health.Log?.at(-1)?.Output ?? '').slice(0, 200);
      throw new RelError(
        'UNHEALTHY',
        `container ${containerName} became unhealthy${output ? ` (last check: ${output})` : ''}`,
      );
    }
    throw new Error(`health: ${health.Status}`);
  });
}
