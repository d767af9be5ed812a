import { RelError } from '@rel/core';
import type { SourceExtension } from './catalog.js';
import type { ReplicationMethod } from './types.js';

/**
 * Extensions the COPY path copies faithfully: PostgreSQL's contrib modules, which define types, functions,
 * operators, index methods or dictionaries and keep no rows of their own (`CREATE EXTENSION` in pre-data
 * recreates them whole). Any other extension may keep state the COPY path would miss (configuration tables,
 * internal schemas, catalog rows), so its presence chooses pg_dump | pg_restore.
 */
const COPY_PATH_EXTENSIONS: ReadonlySet<string> = new Set([
  'plpgsql',
  'adminpack',
  'amcheck',
  'autoinc',
  'bloom',
  'btree_gin',
  'btree_gist',
  'citext',
  'cube',
  'dblink',
  'dict_int',
  'dict_xsyn',
  'earthdistance',
  'file_fdw',
  'fuzzystrmatch',
  'hstore',
  'insert_username',
  'intagg',
  'intarray',
  'isn',
  'lo',
  'ltree',
  'moddatetime',
  'old_snapshot',
  'pageinspect',
  'pg_buffercache',
  'pg_freespacemap',
  'pg_prewarm',
  'pg_stat_statements',
  'pg_surgery',
  'pg_trgm',
  'pg_visibility',
  'pg_walinspect',
  'pgcrypto',
  'pgrowlocks',
  'pgstattuple',
  'postgres_fdw',
  'refint',
  'seg',
  'sslinfo',
  'tablefunc',
  'tcn',
  'tsm_system_rows',
  'tsm_system_time',
  'unaccent',
  'uuid-ossp',
  'xml2',
]);

/** What makes the COPY path unable to copy the source faithfully; empty when it can. */
function copyPathObstacles(extensions: readonly SourceExtension[]): string[] {
  const out: string[] = [];
  for (const extension of extensions) {
    if (extension.configTables > 0) {
      out.push(
        `extension ${extension.name} keeps rows in ${extension.configTables} configuration table(s), which only pg_dump copies`,
      );
    } else if (!COPY_PATH_EXTENSIONS.has(extension.name)) {
      out.push(`extension ${extension.name} is not one the COPY path knows to hold no data of its own`);
    }
  }
  return out;
}

export function chooseMethod(
  extensions: readonly SourceExtension[],
  force?: ReplicationMethod,
): { method: ReplicationMethod; reason: string } {
  const obstacles = copyPathObstacles(extensions);
  if (force === 'dump-restore') return { method: 'dump-restore', reason: 'forced (forceMethod: dump-restore)' };
  if (force === 'copy') {
    if (obstacles.length > 0) {
      throw new RelError('BAD_INPUT', `cannot force the COPY path: ${obstacles.join('; ')}`);
    }
    return { method: 'copy', reason: 'forced (forceMethod: copy)' };
  }
  if (obstacles.length > 0) return { method: 'dump-restore', reason: obstacles.join('; ') };
  return { method: 'copy', reason: 'the COPY path can copy everything the source holds' };
}
