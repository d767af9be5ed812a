import type { EnvironmentLabelValues } from './types.js';

/** The labels that tie containers, networks and volumes to a project's environment. */
export const LABELS = {
  project: 'rel.project',
  environment: 'rel.environment',
  role: 'rel.role',
  version: 'rel.version',
} as const;

/** `{ 'rel.project': 'shop', 'rel.environment': 'green', 'rel.role': 'api', 'rel.version': 'v2' }`; unset values are left out. */
export function environmentLabels(values: EnvironmentLabelValues): Record<string, string> {
  const labels: Record<string, string> = {
    [LABELS.project]: values.project,
    [LABELS.environment]: values.environment,
  };
  if (values.role !== undefined) labels[LABELS.role] = values.role;
  if (values.version !== undefined) labels[LABELS.version] = values.version;
  return labels;
}
