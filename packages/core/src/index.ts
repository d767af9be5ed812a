export { RelError, isRelError, errorMessage } from './errors.js';
export type { RelErrorCode, RelErrorOptions } from './errors.js';
export { ENVIRONMENTS, isEnvironment, parseEnvironment, otherEnvironment } from './environment.js';
export type { Environment } from './environment.js';
export { parseDuration, formatDuration } from './duration.js';
export { pollUntil, sleep } from './poll.js';
export type { PollOptions } from './poll.js';
export { runStep, log, ignoreEvents } from './events.js';
export type { RelEvent, EventSink } from './events.js';
