import type { Environment } from '@rel/core';
import type { RelConfig } from '../config/schema.js';

export type Role = 'db' | 'api' | 'client';

/** Docker names of an environment's resources: `<project>-<env>-<role>`. */
export function resourceNames(config: RelConfig, env: Environment) {
  const prefix = `${config.project}-${env}`;
  return {
    network: prefix,
    dbVolume: `${prefix}-pgdata`,
    container: (role: Role) => `${prefix}-${role}`,
    /** The database's host name on the environment's network. */
    dbHost: 'db',
  };
}
