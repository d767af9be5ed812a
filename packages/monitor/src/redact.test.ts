import { describe, expect, it } from 'vitest';
import { redactUrl } from './index.js';
import { scrubUrlSecrets } from './redact.js';

describe('redactUrl', () => {
  it.each([
    ['http://127.0.0.1:8088/api/health', 'http://127.0.0.1:8088/api/health'],
    ['https://user:secret@example.com/x', 'https://***@example.com/x'],
    ['https://example.com/x?token=abc&b=2', 'https://example.com/x?***'],
    ['http://u@h:1/p?q#frag', 'http://***@h:1/p?***'],
    ['not a url', '<invalid URL>'],
  ])('%s -> %s', (url, shown) => expect(redactUrl(url)).toBe(shown));
});

describe('scrubUrlSecrets', () => {
  it('removes the URL, its query values and credentials from a message', () => {
    const url = new URL('http://admin:hunter22@127.0.0.1:9/h?token=s3cr3t-value');
    expect(scrubUrlSecrets(`connect to ${url.href} failed (token s3cr3t-value, user admin)`, url)).toBe(
      'connect to http://***@127.0.0.1:9/h?*** failed (token ***, user ***)',
    );
  });
});
