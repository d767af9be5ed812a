import { describe, expect, it } from 'vitest';
import { redact } from './index.js';

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

  it('replaces short secrets too', () => {
    expect(redact('user ab logged in with ab', ['ab'])).toBe('user *** logged in with ***');
  });

  it('blanks the password of key=value connection strings, quoted or not, known or not', () => {
    expect(redact('auth failed for s3cret, password=abc;x', ['s3cret'])).toBe('auth failed for ***, password=***;x');
    expect(redact('Host=db;Password="a;b c";Port=1', [])).toBe('Host=db;Password=***;Port=1');
    expect(redact(`Password='x"y' next`, [])).toBe('Password=*** next');
    expect(redact('Password="say ""hi""";Port=1', [])).toBe('Password=***;Port=1');
    expect(redact('password = plain; more', [])).toBe('password = ***; more');
    expect(redact('host=db user=app password=pw dbname=app', [])).toBe('host=db user=app password=*** dbname=app');
  });
});
