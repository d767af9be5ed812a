import { RelError } from '@rel/core';

/** The table-of-contents line pg_dump writes above each object: `-- Name: x; Type: INDEX; Schema: public; Owner: app`. */
const TOC_LINE = /^-- (?:Data for )?Name: (.*); Type: ([A-Z][A-Z ]*); Schema: ([^;\n]*)(?:; Owner: [^\n]*)?$/gm;

/** One statement of a pg_dump plain-text script, with the object it belongs to. */
export interface DumpStatement {
  /** The statement, without its final `;`. */
  sql: string;
  /** The TOC entry it belongs to (`undefined` for the script's header). */
  entry?: { name: string; type: string; schema: string };
}

/**
 * Splits a pg_dump plain-text script into statements at top-level semicolons, honouring '...' and E'...'
 * strings, "..." identifiers, $tag$...$tag$ bodies and comments, and tags each with the TOC comment above it.
 * `\restrict` / `\unrestrict` lines (pg_dump 15.14+) are skipped; any other psql meta-command is refused.
 */
export function splitDumpScript(script: string): DumpStatement[] {
  const out: DumpStatement[] = [];
  let entry: DumpStatement['entry'];
  let start = -1;
  let i = 0;
  const n = script.length;
  const fail = (what: string): never => {
    throw new RelError('STEP_FAILED', `cannot read pg_dump's script near offset ${i}: ${what}`);
  };
  const atLineStart = (at: number) => at === 0 || script[at - 1] === '\n';
  while (i < n) {
    const c = script[i]!;
    const next = script[i + 1];
    if (start === -1) {
      if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
        i++;
        continue;
      }
      if (c === '\\' && atLineStart(i)) {
        const end = script.indexOf('\n', i);
        const line = script.slice(i, end === -1 ? n : end);
        if (!/^\\(un)?restrict\s/.test(line)) fail(`unexpected psql meta-command ${line.split(/\s/)[0]}`);
        i = end === -1 ? n : end + 1;
        continue;
      }
      if (c === '-' && next === '-') {
        const end = script.indexOf('\n', i);
        const line = script.slice(i, end === -1 ? n : end);
        TOC_LINE.lastIndex = 0;
        const toc = TOC_LINE.exec(line);
        if (toc) entry = { name: toc[1]!, type: toc[2]!.trim(), schema: toc[3]! };
        i = end === -1 ? n : end + 1;
        continue;
      }
      start = i;
    }
    if (c === '-' && next === '-') {
      const end = script.indexOf('\n', i);
      i = end === -1 ? n : end;
    } else if (c === '/' && next === '*') {
      let depth = 1;
      let j = i + 2;
      while (j < n && depth > 0) {
        if (script[j] === '/' && script[j + 1] === '*') {
          depth++;
          j += 2;
        } else if (script[j] === '*' && script[j + 1] === '/') {
          depth--;
          j += 2;
        } else j++;
      }
      if (depth > 0) fail('unterminated comment');
      i = j;
    } else if (c === "'") {
      const escapes = (script[i - 1] === 'e' || script[i - 1] === 'E') && !/[A-Za-z0-9_]/.test(script[i - 2] ?? '');
      let j = i + 1;
      for (;;) {
        if (j >= n) fail('unterminated string');
        if (escapes && script[j] === '\\') j += 2;
        else if (script[j] === "'" && script[j + 1] === "'") j += 2;
        else if (script[j] === "'") break;
        else j++;
      }
      i = j + 1;
    } else if (c === '"') {
      let j = i + 1;
      for (;;) {
        if (j >= n) fail('unterminated quoted identifier');
        if (script[j] === '"' && script[j + 1] === '"') j += 2;
        else if (script[j] === '"') break;
        else j++;
      }
      i = j + 1;
    } else if (c === '$' && !/[A-Za-z0-9_]/.test(script[i - 1] ?? '')) {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(script.slice(i, i + 66))?.[0];
      if (tag === undefined) {
        i++;
        continue;
      }
      const end = script.indexOf(tag, i + tag.length);
      if (end === -1) fail(`unterminated ${tag} body`);
      i = end + tag.length;
    } else if (c === ';') {
      out.push({ sql: script.slice(start, i).trim(), ...(entry ? { entry } : {}) });
      start = -1;
      i++;
    } else i++;
  }
  if (start !== -1 && script.slice(start).trim() !== '') fail('a statement without its final semicolon');
  return out;
}

/** `SET x = ...` and `SELECT pg_catalog.set_config('x', ...)`: session state, not objects. */
export function settingName(sql: string): string | undefined {
  const set = /^SET\s+(?:SESSION\s+)?("?[A-Za-z_][A-Za-z0-9_.]*"?)\s*(?:=|TO\s)/i.exec(sql);
  if (set) return set[1]!.replace(/"/g, '').toLowerCase();
  const call = /^SELECT\s+(?:pg_catalog\.)?set_config\('([A-Za-z_][A-Za-z0-9_.]*)'/i.exec(sql);
  return call ? call[1]!.toLowerCase() : undefined;
}

/** A unit of post-data work: one TOC entry's statements, with the session settings they were written under. */
export interface PostDataJob {
  type: string;
  name: string;
  /** SET statements to be in effect (pg_dump writes `SET default_tablespace` only when it changes). */
  settings: readonly string[];
  statements: string[];
  /** `schema.table` as pg_dump writes it, when known: bigger tables are started first. */
  table?: string;
}

export interface PostDataPhase {
  label: string;
  parallel: boolean;
  jobs: PostDataJob[];
}

/** The label of the first phase: indexes and primary, unique and exclusion constraints. */
export const INDEX_PHASE = 'indexes and constraints';
export const FOREIGN_KEY_PHASE = 'foreign keys';
export const ATTACH_PHASE = 'partition index attachments';

const IDENT = String.raw`(?:"(?:[^"]|"")*"|[^\s."(),]+)`;
const INDEX_TABLE = new RegExp(String.raw`^CREATE (?:UNIQUE )?INDEX \S+ ON (?:ONLY )?(${IDENT}\.${IDENT}) USING `, 's');
const ALTER_TABLE = new RegExp(String.raw`^ALTER TABLE (?:ONLY )?(${IDENT}\.${IDENT})\s`, 's');
const REFERENCES = new RegExp(
  String.raw`^ALTER TABLE (?:ONLY )?${IDENT}\.${IDENT}\s+ADD CONSTRAINT ${IDENT} FOREIGN KEY \(${IDENT}(?:, ${IDENT})*\) REFERENCES (${IDENT}\.${IDENT})\(`,
  's',
);

/** The table a foreign key job references (`schema.table` as pg_dump writes it), when it is one plain FK. */
export function referencedTable(job: PostDataJob): string | undefined {
  if (job.type !== 'FK CONSTRAINT' || job.statements.length !== 1) return undefined;
  return REFERENCES.exec(job.statements[0]!)?.[1];
}

/**
 * Orders the post-data section for parallel execution: indexes and primary/unique/exclusion constraints first
 * (in parallel, biggest tables first), then the attachments of partition indexes, then foreign keys (in
 * parallel: they need the unique indexes they reference), then everything else (triggers, rules, policies,
 * comments, materialized view refreshes...) one by one in pg_dump's order.
 */
export function planPostData(statements: DumpStatement[], tableBytes: ReadonlyMap<string, number> = new Map()) {
  const jobs: PostDataJob[] = [];
  let settings: readonly string[] = [];
  const state = new Map<string, string>();
  let current: PostDataJob | undefined;
  let currentEntry: DumpStatement['entry'];
  for (const statement of statements) {
    const setting = settingName(statement.sql);
    if (setting !== undefined) {
      state.set(setting, statement.sql);
      settings = [...state.values()];
      continue;
    }
    if (current === undefined || statement.entry !== currentEntry || current.settings !== settings) {
      currentEntry = statement.entry;
      const table = (INDEX_TABLE.exec(statement.sql) ?? ALTER_TABLE.exec(statement.sql))?.[1];
      current = {
        type: statement.entry?.type ?? 'UNKNOWN',
        name: statement.entry?.name ?? statement.sql.slice(0, 60),
        settings,
        statements: [],
        ...(table ? { table } : {}),
      };
      jobs.push(current);
    }
    current.statements.push(statement.sql);
  }
  const size = (job: PostDataJob) => (job.table ? (tableBytes.get(job.table) ?? 0) : 0);
  const first = jobs.filter((job) => job.type === 'INDEX' || job.type === 'CONSTRAINT');
  // A stable sort: equal sizes keep pg_dump's order.
  first.sort((a, b) => size(b) - size(a));
  const phases: PostDataPhase[] = [
    { label: INDEX_PHASE, parallel: true, jobs: first },
    { label: ATTACH_PHASE, parallel: false, jobs: jobs.filter((job) => job.type === 'INDEX ATTACH') },
    { label: FOREIGN_KEY_PHASE, parallel: true, jobs: jobs.filter((job) => job.type === 'FK CONSTRAINT') },
    {
      label: 'triggers, rules, policies, comments, materialized views',
      parallel: false,
      jobs: jobs.filter((job) => !['INDEX', 'CONSTRAINT', 'INDEX ATTACH', 'FK CONSTRAINT'].includes(job.type)),
    },
  ];
  return phases.filter((phase) => phase.jobs.length > 0);
}
