import { RelError } from '@rel/core';
import { parse } from 'nginx-conf';
import { describe, expect, it } from 'vitest';
import { liveEnvironmentOfConfig, routeConfig } from './config-edit.js';

const ADDRESSES = {
  blue: { api: '127.0.0.1:18081', web: ['127.0.0.1:18091', '127.0.0.1:18093 backup'] },
  green: { api: '127.0.0.1:18082 max_fails=3', web: ['127.0.0.1:18092', '127.0.0.1:18094 backup'] },
};
const UPSTREAMS = ['api', 'web'];

const CONFIG = `# edge proxy
worker_processes 2;
worker_shutdown_timeout 30s;
events {
    worker_connections 1024;
}
http {
    log_format main '$remote_addr "$request" $status';
    upstream api {
        zone api 64k;
        # blue API
        server 127.0.0.1:18081;
        keepalive 16;
    }
    upstream web {
        server 127.0.0.1:18091;
        server 127.0.0.1:18093 backup;
    }
    upstream other {
        server 10.0.0.9:80;
    }
    server {
        listen 80 default_server;
        add_header X-Rel-Environment blue always;
        location /api/ {
            proxy_pass http://api/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
        location / {
            proxy_pass http://web;
        }
        location = /teapot {
            return 418 "short and stout; {really}";
        }
    }
}
`;

/** Every directive as `path name value`, in nginx-conf's source-order parse. */
function directives(text: string): string[] {
  const lines: string[] = [];
  parse(text, (_error, tree) => {
    const walk = (node: NonNullable<typeof tree>, path: string) => {
      for (const child of node.children ?? []) {
        lines.push(`${path}/${child.name} ${child.value}`.trim());
        walk(child, `${path}/${child.name}`);
      }
    };
    if (tree) walk(tree, '');
  });
  return lines;
}

function caught(fn: () => unknown): RelError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(RelError);
    return error as RelError;
  }
  throw new Error('expected a RelError');
}

describe('routeConfig', () => {
  it('rewrites only the named upstreams and the environment header, keeping comments and other directives', () => {
    const routed = routeConfig(CONFIG, { upstreams: UPSTREAMS, addresses: ADDRESSES, target: 'green' });
    expect(routed.changed).toBe(true);
    expect(routed.changes).toEqual([
      'upstream api: server 127.0.0.1:18082 max_fails=3',
      'upstream web: server 127.0.0.1:18092, 127.0.0.1:18094 backup',
      'add_header X-Rel-Environment green always',
    ]);
    expect(routed.text).toContain('        server 127.0.0.1:18082 max_fails=3;');
    expect(routed.text).toContain('add_header X-Rel-Environment green always;');
    expect(routed.text).toContain('# blue API');
    expect(routed.text).toContain('# edge proxy');
    expect(routed.text).toContain('return 418 "short and stout; {really}";');
    expect(routed.droppedComments).toBe(0);

    const before = directives(CONFIG);
    const after = directives(routed.text);
    const untouched = (lines: string[]) =>
      lines.filter((line) => !/^\/http\/upstream\/server |^\/http\/(upstream (api|web))?$|add_header X-Rel/.test(line));
    expect(untouched(after).sort()).toEqual(untouched(before).sort());
    expect(after.filter((line) => line.startsWith('/http/upstream/server'))).toEqual([
      '/http/upstream/server 127.0.0.1:18082 max_fails=3',
      '/http/upstream/server 127.0.0.1:18092',
      '/http/upstream/server 127.0.0.1:18094 backup',
      '/http/upstream/server 10.0.0.9:80',
    ]);
  });

  it('routes back to the same text, and leaves text that already routes there byte-identical', () => {
    const green = routeConfig(CONFIG, { upstreams: UPSTREAMS, addresses: ADDRESSES, target: 'green' });
    const blue = routeConfig(green.text, { upstreams: UPSTREAMS, addresses: ADDRESSES, target: 'blue' });
    const greenAgain = routeConfig(blue.text, { upstreams: UPSTREAMS, addresses: ADDRESSES, target: 'green' });
    expect(greenAgain.text).toBe(green.text);
    const unchanged = routeConfig(CONFIG, { upstreams: UPSTREAMS, addresses: ADDRESSES, target: 'blue' });
    expect(unchanged).toMatchObject({ changed: false, changes: [] });
    expect(unchanged.text).toBe(CONFIG);
  });

  it('adds the header where nginx inherits add_header from, or to the server when no level has one', () => {
    const text = `http {
  upstream api { server 127.0.0.1:1; }
  upstream web { server 127.0.0.1:2; }
  server {
    add_header X-Frame-Options DENY;
    location /api/ { proxy_pass http://api; }
    location /static/ { add_header Cache-Control max-age=60; proxy_pass http://web; }
  }
  server {
    location / { proxy_pass http://web; }
  }
}
`;
    const addresses = {
      blue: { api: '127.0.0.1:1', web: '127.0.0.1:2' },
      green: { api: '127.0.0.1:3', web: '127.0.0.1:4' },
    };
    const routed = routeConfig(text, { upstreams: UPSTREAMS, addresses, target: 'green' });
    expect(routed.changes.filter((line) => line.includes('add_header'))).toEqual([
      'server: add_header X-Rel-Environment green always',
      'location /static/: add_header X-Rel-Environment green always',
      'server: add_header X-Rel-Environment green always',
    ]);
    // The first server keeps X-Frame-Options next to ours; /static/ keeps Cache-Control next to ours.
    expect(routed.text).toMatch(/add_header X-Frame-Options DENY;\n\s+add_header X-Rel-Environment green always;/);
    expect(routed.text).toMatch(/add_header Cache-Control max-age=60;\n\s+add_header X-Rel-Environment green always;/);
    const again = routeConfig(routed.text, { upstreams: UPSTREAMS, addresses, target: 'blue' });
    expect(again.changes.filter((line) => line.includes('add_header'))).toHaveLength(3);
    expect(again.text.match(/X-Rel-Environment blue always/g)).toHaveLength(3);
  });

  it('uses the indentation of the file and counts comments nginx-conf drops', () => {
    const text =
      'http {\n  upstream api {\n    server 127.0.0.1:1;\n    # trailing note\n  }\n  server { location / { proxy_pass http://api; } }\n}\n';
    const routed = routeConfig(text, {
      upstreams: ['api'],
      addresses: { blue: { api: '127.0.0.1:1' }, green: { api: '127.0.0.1:2' } },
      target: 'green',
    });
    expect(routed.text).toContain('\n  upstream api {\n    server 127.0.0.1:2;\n  }');
    expect(routed.droppedComments).toBe(1);
  });

  it('refuses text nginx-conf would render wrongly', () => {
    const options = {
      upstreams: ['api'],
      addresses: { blue: { api: '127.0.0.1:1' }, green: { api: '127.0.0.1:2' } },
      target: 'green' as const,
    };
    const base = (server: string) =>
      `http {\n upstream api { server 127.0.0.1:1; }\n server {\n${server}\n location / { proxy_pass http://api; } }\n}\n`;
    expect(caught(() => routeConfig(base('listen 80 }'), options)).message).toMatch(/unbalanced braces|not terminated/);
    expect(caught(() => routeConfig(base('listen 80;\n}\n}'), options)).message).toMatch(/unbalanced braces/);
    expect(
      caught(() => routeConfig(base('rewrite ^/a /b;\n if ($x) { return 403; }\n rewrite ^/c /d;'), options)).message,
    ).toMatch(/would move "rewrite" before "if" in http > server/);
    expect(caught(() => routeConfig(base('allow 10.0.0.1;\n deny all;\n allow 10.0.0.2;'), options)).message).toMatch(
      /would move "allow" before "deny"/,
    );
    // Interleaving that nginx does not care about is fine.
    expect(routeConfig(base('listen 80;\n add_header A b;\n listen 81;'), options).changed).toBe(true);
  });

  it('names a missing upstream and lists those that exist', () => {
    const error = caught(() =>
      routeConfig(CONFIG, {
        upstreams: ['api', 'shop'],
        addresses: ADDRESSES,
        target: 'green',
        source: '/etc/nginx/x.conf',
      }),
    );
    expect(error.code).toBe('CONFIG');
    expect(error.message).toBe('upstream "shop" not found in /etc/nginx/x.conf (upstreams there: api, web, other)');
  });

  it('refuses unsafe or missing addresses', () => {
    const unsafe = caught(() =>
      routeConfig(CONFIG, {
        upstreams: ['api'],
        addresses: { ...ADDRESSES, green: { api: '127.0.0.1:1; include /etc/passwd' } },
        target: 'green',
      }),
    );
    expect(unsafe.code).toBe('BAD_INPUT');
    const missing = caught(() =>
      routeConfig(CONFIG, { upstreams: ['api'], addresses: { blue: ADDRESSES.blue }, target: 'green' }),
    );
    expect(missing).toMatchObject({ code: 'CONFIG', message: 'no address for upstream "api" in environment green' });
  });

  it('names the line of a syntax error', () => {
    const error = caught(() =>
      routeConfig('http {\n  upstream api {\n    server "unclosed;\n}\n', {
        upstreams: ['api'],
        addresses: ADDRESSES,
        target: 'green',
      }),
    );
    expect(error.code).toBe('CONFIG');
    expect(error.message).toMatch(/^cannot parse the nginx config line 3: /);
  });
});

describe('liveEnvironmentOfConfig', () => {
  it('says which environment the upstream servers name', () => {
    expect(liveEnvironmentOfConfig(CONFIG, { upstreams: UPSTREAMS, addresses: ADDRESSES }).live).toBe('blue');
    const green = routeConfig(CONFIG, { upstreams: UPSTREAMS, addresses: ADDRESSES, target: 'green' }).text;
    expect(liveEnvironmentOfConfig(green, { upstreams: UPSTREAMS, addresses: ADDRESSES }).live).toBe('green');
  });

  it('is undefined for a mix, and says what each upstream names', () => {
    const mixed = CONFIG.replace('server 127.0.0.1:18081;', 'server 127.0.0.1:18082;');
    const { live, detail } = liveEnvironmentOfConfig(mixed, { upstreams: UPSTREAMS, addresses: ADDRESSES });
    expect(live).toBeUndefined();
    expect(detail).toBe('api -> 127.0.0.1:18082 (green); web -> 127.0.0.1:18091, 127.0.0.1:18093 (blue)');
  });
});
