import { connect } from 'node:net';
import { WaitStrategy } from './strategy.js';

// docker-proxy accepts a connection on the host port even when nothing listens in the container, then
// closes it within milliseconds; a connection still open after this long reached a real listener.
const PROXY_GRACE_MS = 60;

/** Something accepts TCP connections on the 127.0.0.1 host port published for `containerPort`. */
export function forListeningPort(containerPort: number): WaitStrategy {
  return new WaitStrategy(`container port ${containerPort} to accept connections`, () => async (context) => {
    await tcpListening(context.hostPort(containerPort), context.signal);
    return true;
  });
}

/** Resolves when a connection to 127.0.0.1:port reaches a listener (see PROXY_GRACE_MS); rejects otherwise. */
function tcpListening(port: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const onAbort = () => done(new Error('stopped'));
    signal.addEventListener('abort', onAbort, { once: true });
    const done = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      if (error) reject(error);
      else resolve();
    };
    socket.setTimeout(1000, () => done(new Error(`connecting to 127.0.0.1:${port} timed out`)));
    socket.once('connect', () => {
      timer = setTimeout(() => done(), PROXY_GRACE_MS);
    });
    socket.once('data', () => done());
    socket.once('close', () =>
      done(new Error(`127.0.0.1:${port} closed the connection: nothing listens behind it yet`)),
    );
    socket.once('error', (error) => done(error));
  });
}
