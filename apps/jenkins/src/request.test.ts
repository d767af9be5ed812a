import { describe, expect, it } from 'vitest';
import { parseStep, releaseRequestOf } from './request.js';

describe("a build's parameters", () => {
  it('become the release request: one component, the version, replicate, watch and approval', () => {
    expect(
      releaseRequestOf({ component: 'backend', version: ' v2 ', replicate: 'true', monitor: '90s', approval: 'false' }),
    ).toEqual({ version: 'v2', only: 'backend', replicate: true, monitorMs: 90_000, pauseBeforeSwitch: false });
    expect(releaseRequestOf({ version: 'v3', monitor: '0' })).toEqual({ version: 'v3', monitorMs: 0 });
    // empty parameters keep the configuration's defaults
    expect(releaseRequestOf({ component: 'frontend', version: 'v3', replicate: '', monitor: '' })).toEqual({
      version: 'v3',
      only: 'frontend',
    });
  });

  it('are refused one line at a time, naming the parameter and what was expected', () => {
    const refused = (parameters: Parameters<typeof releaseRequestOf>[0]) => {
      try {
        releaseRequestOf(parameters);
      } catch (error) {
        expect((error as { code: string }).code).toBe('BAD_INPUT');
        const message = (error as Error).message;
        expect(message).not.toContain('\n');
        return message;
      }
      throw new Error('accepted');
    };
    expect(refused({ version: '' })).toBe(
      'the VERSION parameter is empty: give the image tag to release (for example v20251108-001)',
    );
    expect(refused({})).toMatch(/^the VERSION parameter is empty/);
    expect(refused({ version: 'v1; rm -rf /' })).toMatch(/^invalid VERSION parameter "v1; rm -rf \/": expected/);
    expect(refused({ version: 'v1', replicate: 'yes' })).toBe(
      'invalid REPLICATE parameter "yes": expected true or false',
    );
    expect(refused({ version: 'v1', monitor: 'ten minutes' })).toMatch(/MONITOR parameter/);
    expect(refused({ version: 'v1', component: 'database' })).toBe(
      'invalid --component "database": expected backend, frontend or both',
    );
    expect(() => parseStep('deploy')).toThrow(/invalid --until "deploy": expected one of pull, deploy-backend/);
    expect(parseStep('switch')).toBe('switch');
  });
});
