import { describe, expect, it } from 'vitest';
import { redact } from './redact.js';

describe('redact', () => {
  it('replaces each secret, also where JSON escapes it, and a longer secret whole', () => {
    const quoted = 'pa"ss\\word';
    const line = JSON.stringify({ message: `login with ${quoted} failed`, token: 'abcd-1234' });
    const clean = redact(line, [quoted, 'abcd', 'abcd-1234']);
    expect(clean).not.toContain('ss\\\\word');
    expect(clean).not.toContain('abcd');
    expect(JSON.parse(clean)).toEqual({ message: 'login with *** failed', token: '***' });
    expect(redact('tab\there', ['tab\there'])).toBe('***');
    expect(redact(JSON.stringify('tab\there'), ['tab\there'])).toBe('"***"');
    expect(redact('nothing to hide', ['', 'secret'])).toBe('nothing to hide');
  });
});
