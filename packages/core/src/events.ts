import { errorMessage, RelError } from './errors.js';

/** Progress as values: every library reports through an `EventSink` it was given and never prints. */
export type RelEvent =
  | { type: 'step:start'; step: string; message: string; at: number }
  | {
      type: 'step:progress';
      step: string;
      message: string;
      at: number;
      current?: number;
      total?: number;
      unit?: string;
    }
  | { type: 'step:finish'; step: string; message: string; at: number; durationMs: number; result?: unknown }
  | {
      type: 'step:fail';
      step: string;
      message: string;
      at: number;
      durationMs: number;
      error: { code: string; message: string };
    }
  | { type: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; message: string; at: number; step?: string };

export type EventSink = (event: RelEvent) => void;

export const ignoreEvents: EventSink = () => {};

/** Emits a `log` event. */
export function log(sink: EventSink, level: 'debug' | 'info' | 'warn' | 'error', message: string, step?: string): void {
  sink({ type: 'log', level, message, at: Date.now(), ...(step === undefined ? {} : { step }) });
}

/**
 * A sink for the sub-steps of `step` (say, a library call inside it): their start/finish/fail events
 * become `step:progress` events of `step`, so a reporter shows one step with live detail.
 */
export function nestedSink(sink: EventSink, step: string): EventSink {
  return (event) => {
    switch (event.type) {
      case 'step:start':
        sink({ type: 'step:progress', step, message: event.message, at: event.at });
        break;
      case 'step:finish':
        sink({ type: 'step:progress', step, message: event.message, at: event.at });
        break;
      case 'step:fail':
        sink({ type: 'step:progress', step, message: `${event.message} failed: ${event.error.message}`, at: event.at });
        break;
      case 'step:progress':
        sink({ ...event, step });
        break;
      default:
        sink(event);
    }
  };
}

/**
 * Runs one step: emits `step:start`, then `step:finish` with its duration, or `step:fail` with the
 * error's code and message (and rethrows). `finishMessage` may describe the result. `fn` gets a
 * `progress` reporter and an `inner` sink to hand to the libraries it calls.
 */
export async function runStep<T>(
  sink: EventSink,
  step: string,
  message: string,
  fn: (
    progress: (message: string, extra?: { current?: number; total?: number; unit?: string }) => void,
    inner: EventSink,
  ) => Promise<T>,
  finishMessage?: (result: T) => string,
): Promise<T> {
  const started = Date.now();
  sink({ type: 'step:start', step, message, at: started });
  const progress = (text: string, extra: { current?: number; total?: number; unit?: string } = {}) =>
    sink({ type: 'step:progress', step, message: text, at: Date.now(), ...extra });
  try {
    const result = await fn(progress, nestedSink(sink, step));
    const at = Date.now();
    sink({ type: 'step:finish', step, message: finishMessage?.(result) ?? message, at, durationMs: at - started });
    return result;
  } catch (error) {
    const at = Date.now();
    const code = error instanceof RelError ? error.code : 'STEP_FAILED';
    sink({
      type: 'step:fail',
      step,
      message,
      at,
      durationMs: at - started,
      error: { code, message: errorMessage(error) },
    });
    throw error;
  }
}
