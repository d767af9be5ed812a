import { mkdir, readdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { type Environment, errorMessage, isEnvironment, RelError } from '@rel/core';
import { syncDirectory, writeTempFile } from '../durable-file.js';

/** The steps of a release, in the order they run. */
export const RELEASE_STEPS = [
  'pull',
  'deploy-backend',
  'replicate',
  'migrate',
  'deploy-frontend',
  'checks',
  'approval',
  'switch',
  'monitor',
] as const;
export type ReleaseStepId = (typeof RELEASE_STEPS)[number];

/** `pending` (not started, or started and interrupted), `running`, then `done`, `skipped` or `failed`. */
export type StepStatus = 'pending' | 'running' | 'done' | 'skipped' | 'failed';

export interface ReleaseStepRecord {
  id: ReleaseStepId;
  /** What the step does, in this release: `deploy backend v2 to green`. */
  title: string;
  status: StepStatus;
  /** How many times it was started (more than 1 after a resume). */
  attempts: number;
  startedAt?: string;
  finishedAt?: string;
  durationMs?: number;
  /** One line: what it did, or why it was skipped. */
  summary?: string;
  /** What it changed (containers started and removed, databases swapped, traffic moved), for undoing it. */
  changed?: unknown;
  error?: { code: string; message: string };
  /** After a failure: the state it left. */
  left?: string;
}

/**
 * `running` (or interrupted, when its runner is gone), `paused` for approval, `held` after the step a run was
 * asked to stop after (a pipeline's stage boundary), then one of the ends.
 */
export type ReleaseStatus =
  | 'running'
  | 'paused'
  | 'held'
  | 'interrupted'
  | 'succeeded'
  | 'failed'
  | 'rolled-back'
  | 'aborted';

/** The CI build a release runs in (Jenkins' environment), when there is one. */
export interface CiBuild {
  buildUrl?: string;
  buildTag?: string;
  jobName?: string;
  /** Who started the build. */
  startedBy?: string;
}

/** The process running (or last running) a release. */
export interface ReleaseRunner {
  user: string;
  host: string;
  pid: number;
  /** `/proc/<pid>/stat` field 22, to tell a reused pid from the runner. */
  pidStartTime?: string;
  pidNamespace?: string;
  /** `release`, `resume`, `promote` or `abort` (a pipeline adapter's own: `jenkins start`, ...). */
  command: string;
  at: string;
}

export interface ReleaseRecord {
  schema: 1;
  id: string;
  project: string;
  versions: { backend: string; frontend: string };
  /** Set for the seed's single-component pipelines: the other component's version was carried over from live. */
  only?: 'backend' | 'frontend';
  /** The idle environment the release goes to. */
  target: Environment;
  /** The live environment when it started; null when nothing was live (the first release). */
  from: Environment | null;
  options: {
    replicate: boolean;
    /** 0: no watch. */
    monitorMs: number;
    monitorIntervalMs: number;
    pauseBeforeSwitch: boolean;
  };
  ci?: CiBuild;
  /** Who started it (the first runner). */
  startedBy: { user: string; host: string };
  startedAt: string;
  updatedAt: string;
  finishedAt?: string;
  durationMs?: number;
  status: ReleaseStatus;
  /** One line: how it ended, or where it stands. */
  outcome?: string;
  /** Who approved the switch (`rel release promote`). */
  approval?: { by: string; host: string; at: string; ci?: CiBuild };
  runner: ReleaseRunner;
  /** Every run of it: the first, each resume, promote or abort. */
  runs: ReleaseRunner[];
  steps: ReleaseStepRecord[];
}

/** Ended releases: nothing more runs for them. */
export const FINAL_STATUSES: readonly ReleaseStatus[] = ['succeeded', 'failed', 'rolled-back', 'aborted'];

export function isFinal(record: ReleaseRecord): boolean {
  return FINAL_STATUSES.includes(record.status);
}

/** Where the records live: `<stateDir>/releases/<id>.json`. */
export function journalDir(stateDir: string): string {
  return join(stateDir, 'releases');
}

export function recordFile(stateDir: string, id: string): string {
  return join(journalDir(stateDir), `${id}.json`);
}

const ID = /^\d{8}-\d{6}-[0-9a-f]{4}$/;

/** A new release id: `20261206-201530-3f2a` (UTC time, sortable, then 4 random hex digits). */
export function newReleaseId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${stamp}-${randomHex(4)}`;
}

// Not a secret, only a tie-breaker: Math.random spares rel monitor (which imports this module) node:crypto.
function randomHex(digits: number): string {
  let out = '';
  for (let i = 0; i < digits; i++) out += Math.floor(Math.random() * 16).toString(16);
  return out;
}

/** Writes the record atomically (temp file, fsync, rename): a reader never sees half of it, even after a crash. */
export async function writeRecord(stateDir: string, record: ReleaseRecord): Promise<void> {
  const dir = journalDir(stateDir);
  await mkdir(dir, { recursive: true });
  const file = recordFile(stateDir, record.id);
  await rename(await writeTempFile(file, `${JSON.stringify(record, null, 2)}\n`), file);
  await syncDirectory(dir);
}

/** Reads one record; RelError CONFIG naming the file when it is damaged, NOT_FOUND when there is none. */
export async function readRecord(stateDir: string, id: string): Promise<ReleaseRecord> {
  const file = recordFile(stateDir, id);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new RelError('NOT_FOUND', `no release ${id} in ${journalDir(stateDir)} (rel history lists them)`);
    }
    throw new RelError('CONFIG', `release journal ${file} cannot be read: ${errorMessage(error)}`, { cause: error });
  }
  return parseRecord(text, file);
}

/** Parses a record's text; a damaged one is RelError CONFIG naming the file and what is wrong. */
export function parseRecord(text: string, file: string): ReleaseRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw damaged(file, `not valid JSON (${errorMessage(error)})`);
  }
  const problem = recordProblem(value);
  if (problem) throw damaged(file, problem);
  return value as ReleaseRecord;
}

function damaged(file: string, why: string): RelError {
  return new RelError(
    'CONFIG',
    `release journal ${file} is damaged: ${why}; it is only ever written whole, so it was changed by hand or on disk (move it aside to go on)`,
    { details: { file } },
  );
}

const STATUSES: readonly string[] = ['running', 'paused', 'held', 'interrupted', ...FINAL_STATUSES];
const STEP_STATUSES: readonly string[] = ['pending', 'running', 'done', 'skipped', 'failed'];

function recordProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'expected a JSON object';
  const r = value as Record<string, unknown>;
  if (r.schema !== 1) return `"schema" is ${JSON.stringify(r.schema)}, expected 1`;
  if (typeof r.id !== 'string' || !ID.test(r.id)) return '"id" is not a release id';
  if (typeof r.project !== 'string') return '"project" is missing';
  const versions = r.versions as Record<string, unknown> | undefined;
  if (typeof versions?.backend !== 'string' || typeof versions.frontend !== 'string') return '"versions" is invalid';
  if (!isEnvironment(r.target)) return '"target" must be "blue" or "green"';
  if (r.from !== null && !isEnvironment(r.from)) return '"from" must be "blue", "green" or null';
  if (typeof r.status !== 'string' || !STATUSES.includes(r.status))
    return `"status" ${JSON.stringify(r.status)} is unknown`;
  const options = r.options as Record<string, unknown> | undefined;
  if (typeof options?.monitorMs !== 'number' || typeof options.replicate !== 'boolean') return '"options" is invalid';
  const runner = r.runner as Record<string, unknown> | undefined;
  if (typeof runner?.pid !== 'number' || typeof runner.host !== 'string') return '"runner" is invalid';
  if (typeof r.startedAt !== 'string' || Number.isNaN(Date.parse(r.startedAt))) return '"startedAt" is not a time';
  if (!Array.isArray(r.steps) || r.steps.length !== RELEASE_STEPS.length) {
    return `"steps" must list the ${RELEASE_STEPS.length} steps of a release`;
  }
  for (const [i, step] of (r.steps as Record<string, unknown>[]).entries()) {
    if (step?.id !== RELEASE_STEPS[i])
      return `step ${i + 1} is ${JSON.stringify(step?.id)}, expected "${RELEASE_STEPS[i]}"`;
    if (typeof step.status !== 'string' || !STEP_STATUSES.includes(step.status)) {
      return `step ${step.id}: status ${JSON.stringify(step.status)} is unknown`;
    }
  }
  return undefined;
}

export interface JournalListing {
  /** Newest first. */
  records: ReleaseRecord[];
  /** Files that could not be read as records, with why. */
  damaged: { file: string; message: string }[];
}

/** Every record in the journal, newest first, and the damaged files beside them (never thrown for). */
export async function listRecords(stateDir: string): Promise<JournalListing> {
  const dir = journalDir(stateDir);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], damaged: [] };
    throw new RelError('CONFIG', `release journal ${dir} cannot be read: ${errorMessage(error)}`, { cause: error });
  }
  const files = names
    .filter((n) => n.endsWith('.json'))
    .sort()
    .reverse();
  const records: ReleaseRecord[] = [];
  const damagedFiles: JournalListing['damaged'] = [];
  await Promise.all(
    files.map(async (name, i) => {
      const file = join(dir, name);
      try {
        records[i] = parseRecord(await readFile(file, 'utf8'), file);
      } catch (error) {
        damagedFiles.push({ file, message: errorMessage(error) });
      }
    }),
  );
  return { records: records.filter(Boolean), damaged: damagedFiles.sort((a, b) => a.file.localeCompare(b.file)) };
}

/** The record with this id, or the only one starting with it; BAD_INPUT when it names none or several. */
export async function findRecord(stateDir: string, idOrPrefix: string): Promise<ReleaseRecord> {
  if (!/^[0-9a-f-]{1,20}$/.test(idOrPrefix)) {
    throw new RelError(
      'BAD_INPUT',
      `invalid release id ${JSON.stringify(idOrPrefix)}: expected an id such as 20261206-201530-3f2a (rel history lists them)`,
    );
  }
  if (ID.test(idOrPrefix)) return readRecord(stateDir, idOrPrefix);
  const { records, damaged: bad } = await listRecords(stateDir);
  const matches = records.filter((r) => r.id.startsWith(idOrPrefix));
  if (matches.length === 1) return matches[0]!;
  const badMatch = bad.find((d) => d.file.includes(`/${idOrPrefix}`));
  if (matches.length === 0 && badMatch) throw new RelError('CONFIG', badMatch.message);
  if (matches.length === 0) throw new RelError('NOT_FOUND', `no release ${idOrPrefix} in ${journalDir(stateDir)}`);
  throw new RelError(
    'BAD_INPUT',
    `release id ${idOrPrefix} names ${matches.length} releases (${matches
      .slice(0, 3)
      .map((r) => r.id)
      .join(', ')}…): give more of it`,
  );
}
