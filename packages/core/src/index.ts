export { formatDuration, MAX_DURATION_MS, parseDuration } from './duration.js';
export type { Environment } from './environment.js';
export { ENVIRONMENTS, isEnvironment, otherEnvironment, parseEnvironment } from './environment.js';
export type { RelErrorCode, RelErrorOptions } from './errors.js';
export { errorMessage, isRelError, RelError } from './errors.js';
export type { EventSink, RelEvent } from './events.js';
export { ignoreEvents, log, runStep } from './events.js';
export type { PollOptions } from './poll.js';
export { pollUntil, sleep } from './poll.js';
