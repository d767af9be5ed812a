import { formatDuration, type RelEvent } from '@rel/core';
import { redact } from '@rel/release/config';

export interface BuildLog {
  /** The sink handed to the release: one line per event worth reading in a build log. */
  sink: (event: RelEvent) => void;
  /** A line of this program's own (`rel-jenkins: ...`). */
  line(text: string): void;
  /** Values never to print (the configuration's secrets, the credentials the pipeline bound). */
  addSecrets(values: readonly string[]): void;
  /** Those values, for the reports written beside the log. */
  readonly secrets: readonly string[];
}

export interface BuildLogOptions {
  write?: (text: string) => void;
  verbose?: boolean;
  now?: () => Date;
}

/**
 * Jenkins' console: plain lines, each with its time and the release step it belongs to, written as they happen
 * (a write to a pipe or file is synchronous on POSIX: nothing waits in a buffer), with no terminal control
 * codes: a control character in a message (a container's log line, say) is dropped.
 */
export function createBuildLog(options: BuildLogOptions = {}): BuildLog {
  const write = options.write ?? ((text: string) => process.stdout.write(text));
  const now = options.now ?? (() => new Date());
  const secrets = new Set<string>();
  const emit = (step: string | undefined, text: string) => {
    const clean = redact(text, [...secrets])
      .replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, '')
      .replace(/[\x00-\x1f\x7f]+/g, ' ');
    write(`${now().toISOString()} ${step ? `[${step}] ` : ''}${clean}\n`);
  };
  return {
    sink(event) {
      const step = (event as { release?: { step?: string } }).release?.step;
      switch (event.type) {
        case 'step:start':
          emit(step, `start: ${event.message}`);
          break;
        case 'step:finish':
          emit(step, `done in ${formatDuration(event.durationMs)}: ${event.message}`);
          break;
        case 'step:fail':
          emit(step, `FAILED after ${formatDuration(event.durationMs)}: ${event.message}: ${event.error.message}`);
          break;
        case 'step:progress':
          if (options.verbose) emit(step, `  ${event.message}`);
          break;
        case 'log':
          if (event.level !== 'debug' || options.verbose) {
            emit(step, event.level === 'info' ? `  ${event.message}` : `  ${event.level}: ${event.message}`);
          }
          break;
      }
    },
    line: (text) => emit(undefined, `rel-jenkins: ${text}`),
    addSecrets(values) {
      for (const value of values) if (value) secrets.add(value);
    },
    get secrets() {
      return [...secrets];
    },
  };
}
