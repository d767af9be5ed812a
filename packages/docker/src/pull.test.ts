import { describe, expect, it } from 'vitest';
import { pullFailure } from './pull.js';

// What the engine (20.10) says, captured from a distribution v2.8 registry (Debian's docker-registry).
const context = { registry: '127.0.0.1:5000', name: '127.0.0.1:5000/rel-sample/api:nope' };
const auth = { serveraddress: '127.0.0.1:5000', username: 'rel', password: 'hunter2-secret' };

describe('pullFailure', () => {
  it('an unknown tag or repository is NOT_FOUND', () => {
    const error = pullFailure(
      'manifest for 127.0.0.1:5000/rel-sample/api:nope not found: manifest unknown: manifest unknown',
      { ...context, auth },
    );
    expect(error.code).toBe('NOT_FOUND');
    expect(error.message).toBe('image 127.0.0.1:5000/rel-sample/api:nope not found in registry 127.0.0.1:5000');
  });

  it('refused credentials are AUTH naming the registry and the user, never the password', () => {
    const error = pullFailure('unauthorized: authentication required', { ...context, auth });
    expect(error.code).toBe('AUTH');
    expect(error.message).toBe('registry 127.0.0.1:5000 refused the credentials for user rel');
    expect(JSON.stringify({ message: error.message, details: error.details })).not.toContain(auth.password);
  });

  it('missing credentials are AUTH naming the registry', () => {
    const error = pullFailure(
      'Head "http://127.0.0.1:5000/v2/rel-sample/api/manifests/nope": no basic auth credentials',
      { ...context, auth: undefined },
    );
    expect(error.code).toBe('AUTH');
    expect(error.message).toMatch(/^registry 127\.0\.0\.1:5000 requires credentials/);
  });

  it('a registry that does not answer is UNREACHABLE', () => {
    const error = pullFailure('Get "http://127.0.0.1:5999/v2/": dial tcp 127.0.0.1:5999: connect: connection refused', {
      ...context,
      registry: '127.0.0.1:5999',
      auth: undefined,
    });
    expect(error.code).toBe('UNREACHABLE');
    expect(error.message).toMatch(/^cannot reach registry 127\.0\.0\.1:5999: /);
  });

  it('anything else (a blob missing in the registry) is STEP_FAILED, with any echoed password masked', () => {
    const error = pullFailure(`unknown blob (hunter2-secret)`, { ...context, auth });
    expect(error.code).toBe('STEP_FAILED');
    expect(error.message).toBe('pulling 127.0.0.1:5000/rel-sample/api:nope failed: unknown blob (***)');
  });
});
