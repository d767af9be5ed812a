import { demultiplexToText, readLogs, splitLines } from '../logs.js';
import { WaitStrategy } from './strategy.js';

/**
 * The container's output (stdout or stderr) has `times` lines containing the text or matching the pattern.
 * Each attempt reads the whole output: meant for start-up messages, not for chatty long-running logs.
 */
export function forLogMessage(message: string | RegExp, times = 1): WaitStrategy {
  const pattern =
    typeof message === 'string' ? undefined : new RegExp(message.source, message.flags.replace(/[gy]/g, ''));
  const matches = (line: string) => (pattern ? pattern.test(line) : line.includes(message as string));
  const shown = typeof message === 'string' ? JSON.stringify(message) : String(message);
  const description = `log message ${shown}${times > 1 ? ` ${times} times` : ''}`;
  return new WaitStrategy(description, () => async ({ client, containerId }) => {
    const lines = splitLines(demultiplexToText(await readLogs(client, containerId)).all);
    const seen = lines.filter(matches).length;
    if (seen >= times) return true;
    throw new Error(`seen ${seen} of ${times}`);
  });
}
