// biome-ignore-all lint/suspicious/noUndeclaredEnvVars: runs in a container, not in a turbo task
// The sample API of the rel sandbox: a small Node HTTP server (no framework) in front of PostgreSQL.
//
// `scripts/sandbox` bundles this file and `pg` into one CommonJS file with esbuild and bakes it into the
// images 127.0.0.1:5000/rel-sample/api:v1, :v2 and :v3 (they differ only in APP_VERSION and migrations).
//
// Environment:
//   PORT (8080)  APP_VERSION (baked into the image)  FAIL_MODE (off | error | slow; the initial failure mode)
//   PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE (read by pg itself)
//
// Endpoints (every response is JSON and carries the header X-App-Version):
//   GET  /health                    200 {"status":"ok","version","db":"ok"} or 500/503 with a reason
//   GET  /version                   {"version":"v1"}
//   GET  /items[?limit=N]           {"items":[...]}; 503 {"error":"schema not migrated"} before migrations
//   POST /items {"name","done"?}    201 with the new row ("done" needs the v2 migration)
//   POST /admin/fail?mode=M         switch failure on demand: error (/health answers 500),
//                                   slow (/health answers after 30 s), off (normal). GET shows the mode.
import http from 'node:http';
import pg from 'pg';

const VERSION = process.env.APP_VERSION || 'dev';
const PORT = Number.parseInt(process.env.PORT || '8080', 10);
const SLOW_HEALTH_MS = 30_000;
const FAIL_MODES = new Set(['off', 'error', 'slow']);
const MAX_BODY_BYTES = 64 * 1024;

let failMode = 'off';
if (process.env.FAIL_MODE) {
  if (FAIL_MODES.has(process.env.FAIL_MODE)) failMode = process.env.FAIL_MODE;
  else console.error(`ignoring FAIL_MODE=${JSON.stringify(process.env.FAIL_MODE)}: expected off, error or slow`);
}

const pool = new pg.Pool({
  max: 5,
  connectionTimeoutMillis: 3_000,
  idleTimeoutMillis: 10_000,
  query_timeout: 5_000,
  application_name: `rel-sample-api-${VERSION}`,
});
// An idle client whose server went away (database restarted, replaced) must not crash the process.
pool.on('error', (err) => console.error(`database: idle connection failed: ${describe(err)}`));

/** An error as one line that never contains the database password. */
function describe(err) {
  let message = err?.message || '';
  if (!message && Array.isArray(err?.errors) && err.errors.length > 0) message = err.errors[0]?.message || '';
  if (!message) message = String(err?.code || err || 'unknown error');
  const password = process.env.PGPASSWORD;
  if (password) message = message.split(password).join('***');
  return err?.code && !message.includes(err.code) ? `${err.code}: ${message}` : message;
}

function send(res, status, body) {
  if (res.headersSent || res.destroyed) return;
  const json = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(json),
    'Cache-Control': 'no-store',
    'X-App-Version': VERSION,
  });
  res.end(json);
}

const UNDEFINED_TABLE = '42P01';
const UNDEFINED_COLUMN = '42703';

function sendDatabaseError(res, err) {
  if (err?.code === UNDEFINED_TABLE || err?.code === UNDEFINED_COLUMN) {
    send(res, 503, { error: 'schema not migrated' });
  } else if (typeof err?.code === 'string' && /^(08|28|3D|57P)/.test(err.code)) {
    send(res, 503, { error: 'database unavailable', detail: describe(err) });
  } else if (err?.code && /^[0-9A-Z]{5}$/.test(err.code)) {
    send(res, 500, { error: 'database error', detail: describe(err) });
  } else {
    // Connection refused, timeouts, DNS: the database cannot be reached.
    send(res, 503, { error: 'database unavailable', detail: describe(err) });
  }
}

// Responses waiting in slow mode; answered at once when the server shuts down.
const slowWaiters = new Set();

function waitSlow(res) {
  return new Promise((resolve) => {
    const waiter = {
      done: (reason) => {
        clearTimeout(waiter.timer);
        slowWaiters.delete(waiter);
        resolve(reason);
      },
    };
    waiter.timer = setTimeout(() => waiter.done('elapsed'), SLOW_HEALTH_MS);
    slowWaiters.add(waiter);
    res.on('close', () => waiter.done('closed'));
  });
}

async function health(res) {
  if (failMode === 'error') {
    send(res, 500, { status: 'error', version: VERSION, reason: 'failure switched on: mode error' });
    return;
  }
  if (failMode === 'slow') {
    const outcome = await waitSlow(res);
    if (outcome === 'closed') return;
    if (outcome === 'shutdown') {
      send(res, 503, { status: 'error', version: VERSION, reason: 'shutting down' });
      return;
    }
  }
  try {
    await pool.query('SELECT 1');
    send(res, 200, { status: 'ok', version: VERSION, db: 'ok' });
  } catch (err) {
    send(res, 503, { status: 'error', version: VERSION, db: 'error', reason: `database: ${describe(err)}` });
  }
}

async function listItems(res, url) {
  const limitParam = url.searchParams.get('limit');
  const limit = limitParam === null ? 100 : Number(limitParam);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    send(res, 400, { error: 'limit must be an integer from 1 to 1000' });
    return;
  }
  try {
    const result = await pool.query('SELECT * FROM items ORDER BY id LIMIT $1', [limit]);
    send(res, 200, { items: result.rows });
  } catch (err) {
    sendDatabaseError(res, err);
  }
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(Object.assign(new Error('request body too large'), { status: 413 }));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null'));
      } catch {
        reject(Object.assign(new Error('request body is not valid JSON'), { status: 400 }));
      }
    });
    req.on('error', reject);
  });
}

async function createItem(req, res) {
  let body;
  try {
    body = await readJson(req);
  } catch (err) {
    send(res, err.status || 400, { error: err.message });
    return;
  }
  const name = body?.name;
  if (typeof name !== 'string' || name.trim() === '' || name.length > 200) {
    send(res, 400, { error: 'expected a JSON body {"name": "..."} with a non-empty name of at most 200 characters' });
    return;
  }
  if (body.done !== undefined && typeof body.done !== 'boolean') {
    send(res, 400, { error: '"done" must be true or false' });
    return;
  }
  try {
    const result =
      body.done === undefined
        ? await pool.query('INSERT INTO items (name) VALUES ($1) RETURNING *', [name])
        : await pool.query('INSERT INTO items (name, done) VALUES ($1, $2) RETURNING *', [name, body.done]);
    send(res, 201, result.rows[0]);
  } catch (err) {
    sendDatabaseError(res, err);
  }
}

function adminFail(req, res, url) {
  if (req.method === 'GET') {
    send(res, 200, { failMode });
    return;
  }
  const mode = url.searchParams.get('mode');
  if (!FAIL_MODES.has(mode)) {
    send(res, 400, { error: 'expected ?mode=error, ?mode=slow or ?mode=off' });
    return;
  }
  failMode = mode;
  console.log(`failure mode switched to ${mode}`);
  send(res, 200, { failMode });
}

function methodNotAllowed(res, allowed) {
  res.setHeader('Allow', allowed.join(', '));
  send(res, 405, { error: `method not allowed; use ${allowed.join(' or ')}` });
}

async function handle(req, res) {
  const url = new URL(req.url || '/', 'http://localhost');
  const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
  switch (path) {
    case '/health':
      if (req.method !== 'GET' && req.method !== 'HEAD') return methodNotAllowed(res, ['GET']);
      return health(res);
    case '/version':
      if (req.method !== 'GET' && req.method !== 'HEAD') return methodNotAllowed(res, ['GET']);
      return send(res, 200, { version: VERSION });
    case '/items':
      if (req.method === 'GET' || req.method === 'HEAD') return listItems(res, url);
      if (req.method === 'POST') return createItem(req, res);
      return methodNotAllowed(res, ['GET', 'POST']);
    case '/admin/fail':
      if (req.method !== 'GET' && req.method !== 'POST') return methodNotAllowed(res, ['POST', 'GET']);
      return adminFail(req, res, url);
    case '/':
      return send(res, 200, { name: 'rel sample api', version: VERSION });
    default:
      return send(res, 404, { error: 'not found' });
  }
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => {
    console.error(`${req.method} ${req.url}: ${describe(err)}`);
    send(res, 500, { error: 'internal error' });
  });
});

let shuttingDown = false;
function shutdown(signal) {
  if (shuttingDown) return;
  shuttingDown = true;
  console.log(`${signal}: shutting down`);
  for (const waiter of [...slowWaiters]) waiter.done('shutdown');
  // Stop accepting; let requests in flight finish for a moment, then cut what is left.
  server.close();
  server.closeIdleConnections();
  const cut = setTimeout(() => server.closeAllConnections(), 1_500);
  cut.unref();
  const hardExit = setTimeout(() => process.exit(0), 4_000);
  hardExit.unref();
  server.on('close', () => {
    pool.end().finally(() => process.exit(0));
  });
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

server.listen(PORT, () => {
  console.log(`listening on :${PORT} version ${VERSION}${failMode === 'off' ? '' : ` (failure mode ${failMode})`}`);
});
