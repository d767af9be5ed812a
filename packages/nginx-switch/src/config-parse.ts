import { errorMessage, RelError } from '@rel/core';
import { NginxConfFile, parse as parseTree } from 'nginx-conf';

/** A directive or block of a parsed config (nginx-conf's item: children by name, `_name`, `_value`). */
export type ConfItem = NginxConfFile['nginx'];

/** nginx-conf's ordered parse tree, which `NginxConfFile` is built from. */
type TreeNode = NonNullable<Parameters<Parameters<typeof parseTree>[1]>[1]>;

export interface ParsedConfig {
  conf: NginxConfFile;
  /** The same parse in source order (NginxConfFile groups a block's children by name). */
  tree: TreeNode;
}

/** Parses nginx config text with nginx-conf; RelError CONFIG naming `source` and the line on a syntax error. */
export function parseConfig(text: string, source: string): ParsedConfig {
  let tree: TreeNode | undefined;
  let parseError: unknown;
  try {
    parseTree(text, (error, result) => {
      parseError = error;
      tree = result;
    });
  } catch (error) {
    // nginx-conf throws (rather than reporting) when a "}" closes nothing.
    parseError = { message: `unbalanced braces: a "}" closes nothing (${errorMessage(error)})` };
  }
  if (parseError || !tree) {
    const { message, line } = (parseError ?? {}) as { message?: string; line?: number };
    throw new RelError('CONFIG', `cannot parse ${source}${line ? ` line ${line}` : ''}: ${message ?? 'no parse tree'}`);
  }
  return { conf: new NginxConfFile(tree, { tab: detectIndent(text) }), tree };
}

/**
 * Refuses (RelError CONFIG) text that nginx-conf would not render back faithfully: a directive it would
 * silently drop (no `;` before `}`), unbalanced braces, or order-sensitive directives that its by-name
 * rendering would reorder. Returns how many comments rendering drops (those after a block's last directive).
 */
export function assertRewritable(parsed: ParsedConfig, text: string, source: string): { droppedComments: number } {
  const counts = countNodes(parsed.tree);
  let droppedComments = 0;
  if (!/_by_lua_block\b/.test(text)) {
    const scanned = scanTokens(text);
    if (scanned.opens !== scanned.closes) {
      throw new RelError(
        'CONFIG',
        `cannot parse ${source}: ${scanned.opens} "{" but ${scanned.closes} "}" (unbalanced braces)`,
      );
    }
    if (scanned.semicolons !== counts.directives || scanned.opens !== counts.blocks) {
      throw new RelError(
        'CONFIG',
        `cannot parse ${source} faithfully: a directive is not terminated by ";" (check it with nginx -t)`,
      );
    }
    droppedComments = Math.max(0, scanned.comments - counts.comments);
  }
  const reordered = findReorder(parsed.tree, []);
  if (reordered) {
    throw new RelError(
      'CONFIG',
      `cannot rewrite ${source} with nginx-conf: it groups a block's directives by name and would move "${reordered.moved}" before "${reordered.across}" in ${reordered.where}; write that block's same-name directives together`,
    );
  }
  return { droppedComments };
}

function countNodes(node: TreeNode): { directives: number; blocks: number; comments: number } {
  const total = { directives: 0, blocks: 0, comments: node.comments.length };
  for (const child of node.children ?? []) {
    const sub = countNodes(child);
    if (child.isBlock || child.isVerbatim) total.blocks += 1;
    else total.directives += 1;
    total.directives += sub.directives;
    total.blocks += sub.blocks;
    total.comments += sub.comments;
  }
  return total;
}

/** Counts `;`, `{`, `}` and comments the way nginx tokenizes: outside quotes, `${var}` is not a block. */
function scanTokens(text: string): { semicolons: number; opens: number; closes: number; comments: number } {
  const counts = { semicolons: 0, opens: 0, closes: 0, comments: 0 };
  let i = 0;
  let tokenStart = true;
  while (i < text.length) {
    const c = text[i]!;
    if (tokenStart && c === '#') {
      counts.comments += 1;
      while (i < text.length && text[i] !== '\n') i += 1;
      continue;
    }
    if (tokenStart && (c === '"' || c === "'")) {
      i += 1;
      while (i < text.length && text[i] !== c) i += text[i] === '\\' ? 2 : 1;
      i += 1;
      tokenStart = false;
      continue;
    }
    if (c === ';' || c === '{' || c === '}') {
      if (c === ';') counts.semicolons += 1;
      else if (c === '{') {
        if (text[i - 1] === '$') {
          while (i < text.length && text[i] !== '}') i += 1;
          i += 1;
          tokenStart = false;
          continue;
        }
        counts.opens += 1;
      } else counts.closes += 1;
      tokenStart = true;
    } else {
      tokenStart = /\s/.test(c);
    }
    i += 1;
  }
  return counts;
}

// nginx runs rewrite-module and access directives in the order written, and `include` splices a file in
// place (server and location order decide the default server and regex matching). nginx-conf renders a
// block's children grouped by name, so such pairs must not be interleaved with another name between them.
const REWRITE = new Set(['if', 'set', 'rewrite', 'return', 'break']);
const ACCESS = new Set(['allow', 'deny']);
const AROUND_INCLUDE = new Set([...REWRITE, ...ACCESS, 'server', 'location', 'include']);

function orderMatters(a: string, b: string): boolean {
  if (REWRITE.has(a) && REWRITE.has(b)) return true;
  if (ACCESS.has(a) && ACCESS.has(b)) return true;
  return (a === 'include' && AROUND_INCLUDE.has(b)) || (b === 'include' && AROUND_INCLUDE.has(a));
}

function findReorder(node: TreeNode, path: string[]): { moved: string; across: string; where: string } | undefined {
  const children = node.children ?? [];
  const firstIndex = new Map<string, number>();
  for (const [index, child] of children.entries()) if (!firstIndex.has(child.name)) firstIndex.set(child.name, index);
  for (const [i, earlier] of children.entries()) {
    for (const later of children.slice(i + 1)) {
      if (later.name === earlier.name || firstIndex.get(later.name)! > firstIndex.get(earlier.name)!) continue;
      if (orderMatters(earlier.name, later.name)) {
        return { moved: later.name, across: earlier.name, where: path.length ? path.join(' > ') : 'the top level' };
      }
    }
  }
  for (const child of children) {
    if (!child.isBlock) continue;
    const found = findReorder(child, [...path, `${child.name}${child.value ? ` ${child.value}` : ''}`]);
    if (found) return found;
  }
  return undefined;
}

/** The indentation unit of the text (its first indented line's leading whitespace), default 4 spaces. */
function detectIndent(text: string): string {
  const match = /\{[^\n]*\n([ \t]+)\S/.exec(text);
  return match?.[1] ?? '    ';
}

/** A block's children in render order. */
export function childrenOf(item: ConfItem): ConfItem[] {
  const result: ConfItem[] = [];
  for (const key of Object.keys(item)) {
    const value = item[key];
    if (Array.isArray(value)) result.push(...value);
  }
  return result;
}

/** `item`'s direct children named `name`. */
export function directivesOf(item: ConfItem, name: string): ConfItem[] {
  const value = item[name];
  return Array.isArray(value) ? value : [];
}

export function directiveValue(item: ConfItem): string {
  return String(item._value ?? '').trim();
}

/** Splits a directive's value into arguments, keeping quoted arguments whole (quotes removed). */
export function argsOf(item: ConfItem): string[] {
  const args: string[] = [];
  for (const match of directiveValue(item).matchAll(/"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|(\S+)/g)) {
    args.push(match[1] ?? match[2] ?? match[3]!);
  }
  return args;
}

/** Calls `visit` for every item below `root`, with its ancestors (outermost first). */
export function walk(root: ConfItem, visit: (item: ConfItem, ancestors: readonly ConfItem[]) => void): void {
  const recurse = (item: ConfItem, ancestors: ConfItem[]) => {
    for (const child of childrenOf(item)) {
      visit(child, ancestors);
      recurse(child, [...ancestors, child]);
    }
  };
  recurse(root, [root]);
}

/** Every `upstream` block by name. */
export function findUpstreams(conf: NginxConfFile): Map<string, ConfItem> {
  const upstreams = new Map<string, ConfItem>();
  walk(conf.nginx, (item) => {
    if (item._name === 'upstream') upstreams.set(directiveValue(item), item);
  });
  return upstreams;
}

/** The named upstream blocks; RelError CONFIG naming a missing one and listing those that exist. */
export function requireUpstreams(conf: NginxConfFile, names: readonly string[], source: string): Map<string, ConfItem> {
  const all = findUpstreams(conf);
  const missing = names.filter((name) => !all.has(name));
  if (missing.length > 0) {
    const existing = all.size ? [...all.keys()].join(', ') : 'none';
    throw new RelError(
      'CONFIG',
      `upstream ${missing.map((name) => `"${name}"`).join(', ')} not found in ${source} (upstreams there: ${existing})`,
    );
  }
  return new Map(names.map((name) => [name, all.get(name)!]));
}

/** The upstream a `proxy_pass` value names (`http://sample_api/` -> `sample_api`), if it names one. */
export function proxyPassHost(value: string): string | undefined {
  const match = /^(?:https?|grpcs?):\/\/([^/:$\s]+)(?::\d+)?(?:\/|$)/.exec(value);
  return match?.[1];
}
