import { describe, expect, it } from 'vitest';
import { Wait } from '../wait.js';

describe('Wait.forLogMessage', () => {
  it('describes the text or pattern and how many times', () => {
    expect(Wait.forLogMessage(/ready/i, 2).description).toBe('log message /ready/i 2 times');
    expect(Wait.forLogMessage('listening on 8080').description).toBe('log message "listening on 8080"');
  });
});
