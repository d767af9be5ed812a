// HTTP on 127.0.0.1 for tests: a receiver that records what it gets, a server whose answers a test sets, and a GET
// that says which environment answered.
import { createServer, get, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';

export interface ReceivedRequest {
  /** The request's path and query (the credential, for a Slack-style webhook URL). */
  path: string;
  headers: IncomingHttpHeaders;
  /** The JSON body (undefined when empty). */
  body: Record<string, unknown>;
  /** When it arrived (Date.now()). */
  at: number;
}

export interface Receiver {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Every request received, oldest first. */
  received: ReceivedRequest[];
  close(): Promise<void>;
}

/** Answers a request once its body was read; `index` is its place in `received`. */
export type ReceiverHandler = (req: IncomingMessage, res: ServerResponse, index: number) => void;

/**
 * A local HTTP receiver of notifications (webhook, Slack, Teams) that records every request and answers 200 `ok`,
 * unless `handler` answers otherwise.
 */
export async function startReceiver(handler: ReceiverHandler = (_req, res) => res.end('ok')): Promise<Receiver> {
  const received: ReceivedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      received.push({
        path: req.url ?? '',
        headers: req.headers,
        body: text ? JSON.parse(text) : undefined,
        at: Date.now(),
      });
      handler(req, res, received.length - 1);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** How the test server answers: a fixed status, a pattern over requests, or slowly. */
export interface TestServer {
  url(path?: string): string;
  port: number;
  /** Status of the next responses. */
  status: number;
  /** When set, request n (from 0) gets `pattern[n % pattern.length]` instead of `status`. */
  pattern: number[] | undefined;
  /** Delay before answering, ms. */
  delayMs: number;
  /** Body of 2xx answers. */
  body: string;
  /**
   * `reused`: a request on a connection that already served one is not answered, its connection closed (a kept
   * connection the server drops as the request goes out). `all`: every request's connection closed so.
   */
  drop: 'reused' | 'all' | undefined;
  requests: number;
  /** TCP connections accepted. */
  connections: number;
  close(): Promise<void>;
}

/** A node:http server on 127.0.0.1, on a port the kernel picks, answering as the test sets it. */
export async function startTestServer(): Promise<TestServer> {
  const timers = new Set<NodeJS.Timeout>();
  const state: TestServer = {
    url: (path = '/health') => `http://127.0.0.1:${state.port}${path}`,
    port: 0,
    status: 200,
    pattern: undefined,
    delayMs: 0,
    body: 'ok\n',
    drop: undefined,
    requests: 0,
    connections: 0,
    close: async () => {},
  };
  const served = new WeakMap<object, number>();
  const server = createServer((request, response) => {
    const n = state.requests;
    state.requests += 1;
    const before = served.get(request.socket) ?? 0;
    served.set(request.socket, before + 1);
    if (state.drop === 'all' || (state.drop === 'reused' && before > 0)) {
      request.socket.destroy();
      return;
    }
    request.resume();
    const status = state.pattern ? state.pattern[n % state.pattern.length]! : state.status;
    const answer = () => {
      timers.delete(timer);
      if (response.destroyed) return;
      response.writeHead(status, { 'content-type': 'text/plain' });
      response.end(status < 300 ? state.body : `failing with ${status}\n`);
    };
    const timer = setTimeout(answer, state.delayMs);
    timers.add(timer);
  });
  server.on('connection', () => {
    state.connections += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  state.port = typeof address === 'object' && address ? address.port : 0;
  state.close = () =>
    new Promise<void>((resolve) => {
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}

/** Who answered a GET: its status, X-Rel-Environment and X-App-Version headers (null when absent). */
export interface Answer {
  status: number;
  env: string | null;
  version: string | null;
}

/** GET on a new connection (what a new client sees, no worker of before answers), within `timeoutMs`. */
export function whoAnswers(url: string, timeoutMs = 2000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => {
        const header = (name: string) => {
          const value = res.headers[name];
          return typeof value === 'string' ? value : null;
        };
        resolve({ status: res.statusCode ?? 0, env: header('x-rel-environment'), version: header('x-app-version') });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${timeoutMs}ms`)));
    req.on('error', reject);
  });
}
