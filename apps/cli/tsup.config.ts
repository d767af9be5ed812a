import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Options } from 'tsup';

// The library build (`@rel/cli`'s exports: `main`) bundles nothing: @rel/release and the libraries are its
// dependencies, so one copy of @rel/core serves them all.
// The `rel` command is one script instead, an application artifact nobody imports: dockerode loads gRPC, protobuf
// and ssh2 at start-up (about 150 ms) for features rel does not use (BuildKit sessions, ssh:// engines), so the
// script bundles @rel/docker with dockerode and replaces those modules with a stub that fails only if called.
// It also bundles the libraries a run loads (core, release, nginx-switch, monitor, undici, yaml, and the
// database libraries, whose code initialises only when a database flow runs): resolving and reading their
// hundreds of files cost more CPU than running a command (`rel monitor` started with 0.43 s of CPU, now
// 0.22 s). pg stays external.
const unused = ['@grpc/grpc-js', '@grpc/proto-loader', 'protobufjs', 'ssh2', 'uuid'];
// Nor does rel build images from a directory: the modules dockerode's util.js loads for build contexts (tar-fs
// with tar-stream, bl and readable-stream, zlib, a .dockerignore parser) are stubbed there too (~10 ms of CPU).
const unusedByDockerodeUtil = ['tar-fs', 'zlib', '@balena/dockerignore'];
const stub = fileURLToPath(new URL('./src/bundle/unused-module.cjs', import.meta.url));
// `undici` (the package's index) resolves to the part of it rel uses: src/bundle/undici.mjs says why. Its
// HTTP/2 connector loads on first use: src/bundle/undici-client-h2.cjs.
const undiciLean = fileURLToPath(new URL('./src/bundle/undici.mjs', import.meta.url));
const undiciLazyH2 = fileURLToPath(new URL('./src/bundle/undici-client-h2.cjs', import.meta.url));
// docker-modem's node:https (TLS engines only) loads on first use: src/bundle/lazy-https.cjs. And it formats
// every request with util.inspect for its debug log, printed only under DEBUG=modem: formatted only then.
const eagerInspect = /debug\('Sending: %s', util\.inspect\(options, \{\s*showHidden: true,\s*depth: null\s*\}\)\);/;
const lazyHttps = fileURLToPath(new URL('./src/bundle/lazy-https.cjs', import.meta.url));

const bundled = [
  '@rel/docker',
  'dockerode',
  'docker-modem',
  '@rel/core',
  '@rel/release',
  '@rel/monitor',
  '@rel/nginx-switch',
  '@rel/db-migrate',
  '@rel/replicate',
  'undici',
  'yaml',
];

const shared = {
  sourcemap: true,
  target: 'node20',
  esbuildPlugins: [
    {
      name: 'stub-unused-dockerode-features',
      setup(build) {
        const names = (list: string[]) => new RegExp(`^(${list.map((m) => m.replace(/[/.]/g, '\\$&')).join('|')})$`);
        build.onResolve({ filter: names(unused) }, () => ({ path: stub }));
        build.onResolve({ filter: names(unusedByDockerodeUtil) }, (args) =>
          /[\\/]dockerode[\\/]lib[\\/]util\.js$/.test(args.importer) ? { path: stub } : undefined,
        );
      },
    },
    {
      name: 'docker-modem-lazy',
      setup(build) {
        build.onLoad({ filter: /[\\/]docker-modem[\\/]lib[\\/]modem\.js$/ }, async (args) => {
          const source = await readFile(args.path, 'utf8');
          if (!eagerInspect.test(source)) throw new Error(`${args.path}: its debug line changed; see tsup.config.ts`);
          const lazy =
            "if (debug.enabled) debug('Sending: %s', util.inspect(options, { showHidden: true, depth: null }));";
          return { contents: source.replace(eagerInspect, lazy), loader: 'js' };
        });
        build.onResolve({ filter: /^https$/ }, (args) =>
          /[\\/]docker-modem[\\/]lib[\\/]http\.js$/.test(args.importer) ? { path: lazyHttps } : undefined,
        );
      },
    },
    {
      name: 'undici-without-fetch',
      setup(build) {
        build.onResolve({ filter: /^undici$/ }, () => ({ path: undiciLean }));
        build.onResolve({ filter: /^\.\/client-h2\.js$/ }, (args) =>
          /[\\/]undici[\\/]lib[\\/]dispatcher[\\/]client\.js$/.test(args.importer) ? { path: undiciLazyH2 } : undefined,
        );
      },
    },
  ],
} satisfies Options;

export default defineConfig([
  // The library (`@rel/cli`'s exports): ES modules, split per command, every dependency external.
  {
    entry: ['src/index.ts'],
    format: ['esm'],
    dts: true,
    clean: true,
    splitting: true,
    sourcemap: true,
    target: 'node20',
  },
  // The `rel` command: one CommonJS script (bin/rel.js runs it through V8's code cache, which Node 20 offers
  // for scripts only; bin/load-cli.js says why). Everything but pg is in it.
  {
    ...shared,
    entry: { rel: 'src/cli.ts' },
    format: ['cjs'],
    outDir: 'dist-bin',
    clean: true,
    splitting: false,
    shims: true,
    noExternal: bundled,
    // import() becomes require(): a script run through the code cache has no module loader for import() (Node 20
    // drops it with cached data; load-cli.js)
    esbuildOptions(options) {
      options.supported = { ...options.supported, 'dynamic-import': false };
    },
  },
]);
