#!/usr/bin/env node
// What each published tarball holds, checked (CI): `npm pack --dry-run` of every publishable package must carry
// package.json, README.md and LICENSE, its build, and nothing of tests (test files, test support, fixtures, nothing
// of a private workspace package such as @rel/test-utils: not a file of it, not a dependency on it, not its name in
// a built file); each source map must carry its sources' text (they point at src/, which is not published). One
// line per problem.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const workspaces = ['packages', 'apps'].flatMap((dir) =>
  execFileSync('ls', [join(root, dir)], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .map((name) => join(dir, name)),
);
const TEST_FILES = /(^|\/)(test|tests|fixtures)\/|\.test\.|test-support|test-servers|test-utils|\.int\./;
const manifests = new Map(
  workspaces.map((dir) => [dir, JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8'))]),
);
/** The private workspace packages (@rel/test-utils): nothing of them may reach a tarball. */
const privateNames = [...manifests.values()].filter((pkg) => pkg.private).map((pkg) => pkg.name);
let problems = 0;
const problem = (text) => {
  problems++;
  console.log(`check-pack: ${text}`);
};
for (const dir of workspaces) {
  const pkg = manifests.get(dir);
  if (pkg.private) continue;
  const [packed] = JSON.parse(
    execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: join(root, dir),
      encoding: 'utf8',
    }),
  );
  const files = packed.files.map((f) => f.path);
  for (const needed of ['package.json', 'README.md', 'LICENSE']) {
    if (!files.includes(needed)) problem(`${pkg.name}: the tarball has no ${needed}`);
  }
  if (!files.some((f) => f.startsWith('dist/'))) problem(`${pkg.name}: the tarball has no dist/ (build first)`);
  for (const file of files.filter((f) => TEST_FILES.test(f))) problem(`${pkg.name}: test file ${file} in the tarball`);
  for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
    for (const name of privateNames.filter((n) => pkg[field]?.[n] !== undefined)) {
      problem(`${pkg.name}: package.json ${field} has the private test package ${name}`);
    }
  }
  for (const file of files.filter((f) => /\.(js|mjs|cjs|d\.ts)$/.test(f))) {
    const text = readFileSync(join(root, dir, file), 'utf8');
    for (const name of privateNames.filter((n) => text.includes(n))) {
      problem(`${pkg.name}: ${file} in the tarball uses the private test package ${name}`);
    }
  }
  for (const map of files.filter((f) => f.endsWith('.map'))) {
    const { sources = [], sourcesContent = [] } = JSON.parse(readFileSync(join(root, dir, map), 'utf8'));
    if (sources.length !== sourcesContent.filter((s) => typeof s === 'string').length) {
      problem(`${pkg.name}: ${map} points at sources it does not carry (src/ is not published)`);
    }
  }
  for (const field of ['license', 'repository', 'engines', 'publishConfig']) {
    if (pkg[field] === undefined) problem(`${pkg.name}: package.json has no ${field}`);
  }
  console.log(`${pkg.name}@${pkg.version}: ${files.length} files (${(packed.size / 1024).toFixed(1)} kB packed)`);
}
if (problems > 0) {
  console.log(`check-pack: ${problems} problem(s)`);
  process.exit(1);
}
