import { parseDuration, RelError } from '@rel/core';
import { validateTag } from '@rel/docker';
import { RELEASE_STEPS, type ReleaseRequest, type ReleaseStepId } from '@rel/release';

/** The build's parameters as the pipeline hands them over (Jenkins' parameters are strings in the environment). */
export interface BuildParameters {
  component?: string;
  version?: string;
  replicate?: string;
  monitor?: string;
  approval?: string;
}

/**
 * The release a build asks for, checked before anything runs: each bad value is one BAD_INPUT line naming the
 * parameter. `component` is the pipeline's (backend-release or frontend-release): only that component changes,
 * the other keeps the version live runs; `both` releases both at one version.
 */
export function releaseRequestOf(parameters: BuildParameters): ReleaseRequest {
  const component = parameters.component ?? 'both';
  if (component !== 'backend' && component !== 'frontend' && component !== 'both') {
    throw new RelError('BAD_INPUT', `invalid --component ${show(component)}: expected backend, frontend or both`);
  }
  const version = parameters.version?.trim() ?? '';
  if (version === '') {
    throw new RelError(
      'BAD_INPUT',
      'the VERSION parameter is empty: give the image tag to release (for example v20251108-001)',
    );
  }
  validateTag(version, 'VERSION parameter');
  const monitor = parameters.monitor?.trim();
  return {
    version,
    ...(component === 'both' ? {} : { only: component }),
    ...optionalBoolean('REPLICATE', parameters.replicate, (replicate) => ({ replicate })),
    ...(monitor ? { monitorMs: parseDuration(monitor, 'MONITOR parameter', { allowZero: true }) } : {}),
    ...optionalBoolean('APPROVAL', parameters.approval, (pauseBeforeSwitch) => ({ pauseBeforeSwitch })),
  };
}

/** `--until`: a release step's id. */
export function parseStep(value: string | undefined): ReleaseStepId | undefined {
  if (value === undefined) return undefined;
  if ((RELEASE_STEPS as readonly string[]).includes(value)) return value as ReleaseStepId;
  throw new RelError('BAD_INPUT', `invalid --until ${show(value)}: expected one of ${RELEASE_STEPS.join(', ')}`);
}

function optionalBoolean<T>(name: string, value: string | undefined, make: (on: boolean) => T): T | object {
  const text = value?.trim().toLowerCase();
  if (text === undefined || text === '') return {};
  if (text === 'true') return make(true);
  if (text === 'false') return make(false);
  throw new RelError('BAD_INPUT', `invalid ${name} parameter ${show(value ?? '')}: expected true or false`);
}

function show(value: string): string {
  return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
}
