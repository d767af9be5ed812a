// The default `DatabaseExec`, which spawns the local pg_dump / pg_restore, is @rel/postgres's.
export { localExec } from '@rel/postgres';
