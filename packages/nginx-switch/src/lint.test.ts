import { describe, expect, it } from 'vitest';
import { lintReloadSafety } from './lint.js';
import { renderSocketRoutingConfig } from './socket-route.js';

const main = (http: string, extra = 'worker_shutdown_timeout 30s;') =>
  `worker_processes 1;\n${extra}\nevents { worker_connections 64; }\nhttp {\n${http}\n}\n`;

describe('lintReloadSafety', () => {
  it('is quiet about a safe config', () => {
    const text = main(`
      upstream api { server 127.0.0.1:8080; keepalive 8; }
      server {
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        location / { proxy_pass http://api; }
        location /files/ { proxy_pass http://127.0.0.1:9000; }
        location /dyn/ { proxy_pass http://$backend; }
        location /sock/ { proxy_pass http://unix:/run/app.sock:/; }
      }`);
    expect(lintReloadSafety(text)).toEqual([]);
  });

  it('warns when worker_shutdown_timeout is missing from the main config, not from an included file', () => {
    const warnings = lintReloadSafety(main('', ''));
    expect(warnings).toEqual([
      expect.objectContaining({
        rule: 'worker-shutdown-timeout',
        fix: 'add `worker_shutdown_timeout 30s;` to the main context',
      }),
    ]);
    expect(lintReloadSafety('server { listen 80; }')).toEqual([]);
    expect(lintReloadSafety('server { listen 80; }', { main: true }).map((w) => w.rule)).toEqual([
      'worker-shutdown-timeout',
    ]);
  });

  it('warns about upstream keepalive without HTTP/1.1 and a cleared Connection header, following inheritance', () => {
    const text = main(`
      upstream api { server 127.0.0.1:8080; keepalive 8; }
      server {
        proxy_http_version 1.1;
        location /ok/ { proxy_set_header Connection ""; proxy_pass http://api; }
        location /inherits-none/ { proxy_pass http://api; }
      }
      server {
        proxy_set_header Connection "";
        location /overrides/ { proxy_set_header Host $host; proxy_http_version 1.1; proxy_pass http://api; }
      }`);
    const warnings = lintReloadSafety(text);
    expect(warnings.map((w) => w.rule)).toEqual(['upstream-keepalive-headers', 'upstream-keepalive-headers']);
    expect(warnings[0]!.message).toMatch(
      /location \/inherits-none\/ proxying to it lacks proxy_set_header Connection ""/,
    );
    // proxy_set_header in a location replaces all inherited ones: Connection "" is lost there.
    expect(warnings[1]!.message).toMatch(/location \/overrides\/ .* lacks proxy_set_header Connection ""/);
    expect(warnings[1]!.fix).toBe('add `proxy_set_header Connection "";` to location /overrides/ (or its server)');
  });

  it('warns about proxy_pass to a hostname nginx resolves once', () => {
    const text = main(`
      upstream api { server 127.0.0.1:8080; }
      server {
        location / { proxy_pass http://api.internal:8080/; }
        location /local/ { proxy_pass http://localhost:8080; }
      }`);
    const warnings = lintReloadSafety(text);
    expect(warnings).toEqual([expect.objectContaining({ rule: 'proxy-pass-hostname' })]);
    expect(warnings[0]!.message).toMatch(/names the host api\.internal, which nginx resolves once/);
  });

  it('warns about keepalive in a front upstream of the socket method', () => {
    const routing = renderSocketRoutingConfig({
      upstreams: ['api'],
      addresses: { blue: { api: '127.0.0.1:1' }, green: { api: '127.0.0.1:2' } },
      socketDir: '/run/rel',
    });
    const ok = main(`${routing}\nserver { location / { proxy_pass http://api; } }`);
    expect(lintReloadSafety(ok, { upstreams: ['api'] })).toEqual([]);
    const pooled = ok.replace(
      'server unix:/run/rel/live/api.sock;',
      'server unix:/run/rel/live/api.sock;\n    keepalive 4;',
    );
    expect(lintReloadSafety(pooled, { upstreams: ['api'] }).map((w) => w.rule)).toEqual([
      'upstream-keepalive-headers',
      'socket-front-keepalive',
    ]);
    expect(lintReloadSafety(pooled, { upstreams: ['api'], method: 'reload' })).toEqual([
      expect.objectContaining({ rule: 'upstream-keepalive-headers' }),
    ]);
  });

  it('never throws, even on text it cannot parse', () => {
    expect(lintReloadSafety('http { server { listen "80; } }')).toEqual([]);
  });
});
