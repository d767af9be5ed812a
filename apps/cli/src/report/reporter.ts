import { formatDuration, type RelEvent } from '@rel/core';
import { redact } from '@rel/release/config';

export type OutputMode = 'json' | 'tty' | 'plain';

export interface Reporter {
  /** The sink handed to libraries and flows. */
  sink: (event: RelEvent) => void;
  /** A result line (the command's answer), printed whatever the mode. */
  result(text: string, data?: unknown): void;
  /** The final error line; `details` (every problem of a config, say) go with it in JSON mode. */
  error(message: string, code: string, exitCode: number, details?: Record<string, unknown>): void;
  /** Stops live rendering (clears a progress line). */
  close(): void;
}

export interface ReporterOptions {
  mode: OutputMode;
  verbose?: boolean;
  /** Values to redact from everything printed. */
  secrets?: () => readonly string[];
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  /** Clock for plain mode timestamps. */
  now?: () => Date;
}

/** Picks tty output for a terminal, plain timestamped lines otherwise (Jenkins), json when asked. */
export function chooseMode(json: boolean, stream: NodeJS.WriteStream = process.stdout): OutputMode {
  if (json) return 'json';
  return stream.isTTY && process.env.TERM !== 'dumb' && !process.env.CI ? 'tty' : 'plain';
}

export function createReporter(options: ReporterOptions): Reporter {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const secrets = options.secrets ?? (() => []);
  const clean = (text: string) => redact(text, secrets());
  const now = options.now ?? (() => new Date());
  let liveLine = false;

  const clearLive = () => {
    if (liveLine) {
      stdout.write('\r\x1b[2K');
      liveLine = false;
    }
  };

  if (options.mode === 'json') {
    return {
      sink: (event) => stdout.write(`${clean(JSON.stringify(event))}\n`),
      result: (text, data) =>
        stdout.write(`${clean(JSON.stringify({ type: 'result', message: text, at: Date.now(), data }))}\n`),
      error: (message, code, exitCode, details) =>
        stdout.write(
          `${clean(JSON.stringify({ type: 'error', code, message, exitCode, ...(details ? { details } : {}), at: Date.now() }))}\n`,
        ),
      close: () => {},
    };
  }

  const line = (text: string) => {
    const body = clean(text);
    if (options.mode === 'plain') stdout.write(`${now().toISOString()} ${body}\n`);
    else {
      clearLive();
      stdout.write(`${body}\n`);
    }
  };

  return {
    sink: (event) => {
      switch (event.type) {
        case 'step:start':
          line(`▶ ${event.message}`);
          break;
        case 'step:progress': {
          const counts = event.total
            ? ` (${event.current ?? 0}/${event.total}${event.unit ? ` ${event.unit}` : ''})`
            : '';
          if (options.mode === 'tty') {
            clearLive();
            stdout.write(`  … ${clean(event.message)}${counts}`);
            liveLine = true;
          } else if (options.verbose) line(`  … ${event.message}${counts}`);
          break;
        }
        case 'step:finish':
          line(`✔ ${event.message} (${formatDuration(event.durationMs)})`);
          break;
        case 'step:fail':
          line(`✘ ${event.message} failed after ${formatDuration(event.durationMs)}: ${event.error.message}`);
          break;
        case 'log':
          if (event.level === 'debug' && !options.verbose) break;
          line(event.level === 'info' ? `  ${event.message}` : `  ${event.level}: ${event.message}`);
          break;
      }
    },
    result: (text) => {
      clearLive();
      stdout.write(`${clean(text)}\n`);
    },
    error: (message, code) => {
      clearLive();
      stderr.write(`rel: ${clean(message)}${options.verbose ? ` [${code}]` : ''}\n`);
    },
    close: clearLive,
  };
}
